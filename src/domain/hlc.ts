/**
 * Hybrid logical clock (Kulkarni et al., 2014).
 *
 * A timestamp is encoded as a fixed-width string `wwwwwwwwwwww.cccc.origin`
 * (wall-clock milliseconds and a counter, both hex, then the origin that issued
 * it), so that plain string comparison — in TypeScript, SQLite and Redis Lua
 * alike — orders timestamps, and two origins never issue equal ones.
 *
 * The origin names the node that issued a stamp — its region and the node
 * (`eu.node-7`) — so that no two nodes ever issue equal stamps. (The region
 * alone is the *writer* in CRDT state: see `ChangeRecord.origin`.)
 *
 * Invariants: `now()` is strictly greater than every timestamp this clock has
 * issued or observed, even when the wall clock steps backwards.
 */
export type Hlc = string;

const WALL_WIDTH = 12;
const COUNTER_WIDTH = 4;
const MAX_COUNTER = 0xffff;

export interface HlcParts {
  readonly wall: number;
  readonly counter: number;
  readonly origin: string;
}

export function encodeHlc({ wall, counter, origin }: HlcParts): Hlc {
  return `${wall.toString(16).padStart(WALL_WIDTH, '0')}.${counter
    .toString(16)
    .padStart(COUNTER_WIDTH, '0')}.${origin}`;
}

export function decodeHlc(hlc: Hlc): HlcParts {
  const first = hlc.indexOf('.');
  const second = first < 0 ? -1 : hlc.indexOf('.', first + 1);
  return {
    wall: wallOf(hlc, first),
    counter: counterOf(hlc, first, second),
    origin: second < 0 ? '' : hlc.slice(second + 1),
  };
}

// Read by position rather than split: a clock observes a stamp on every authenticated request.
function wallOf(hlc: Hlc, firstDot: number): number {
  return Number.parseInt(firstDot < 0 ? hlc : hlc.slice(0, firstDot), 16);
}

function counterOf(hlc: Hlc, firstDot: number, secondDot: number): number {
  if (firstDot < 0) return 0;
  return Number.parseInt(secondDot < 0 ? hlc.slice(firstDot + 1) : hlc.slice(firstDot + 1, secondDot), 16);
}

/** Characters of a region or node name, each part of a clock's origin. */
const NAME = '[A-Za-z0-9_-]{1,32}';
const ORIGIN_PATTERN = new RegExp(`^${NAME}(\\.${NAME})?$`);

/** The clock origin of one node of a region: unique per node, and it tells the region. */
export function nodeOrigin(region: string, node: string): string {
  return `${region}.${node}`;
}

/**
 * The least stamp of `origin` above `floor`: one tick later in `floor`'s
 * millisecond. A store gives a change this stamp when the change's own stamp
 * is not above every stamp the session already holds — the node's wall clock
 * lags — so that a later write still wins by last-writer-wins.
 */
export function hlcSuccessor(floor: Hlc, origin: string): Hlc {
  const { wall, counter } = decodeHlc(floor);
  return counter < MAX_COUNTER
    ? encodeHlc({ wall, counter: counter + 1, origin })
    : encodeHlc({ wall: wall + 1, counter: 0, origin });
}

/** `stamp` when it is above `floor` (or there is none), else the successor of `floor` with `stamp`'s origin. */
export function stampAbove(stamp: Hlc, floor: Hlc | undefined): Hlc {
  return floor === undefined || stamp > floor ? stamp : hlcSuccessor(floor, decodeHlc(stamp).origin);
}

/** The larger of two timestamps; `undefined` counts as the smallest. */
export function maxHlc(a: Hlc | undefined, b: Hlc | undefined): Hlc | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a >= b ? a : b;
}

export class HybridLogicalClock {
  #wall = 0;
  #counter = 0;

  constructor(
    readonly origin: string,
    private readonly wallClock: () => number = Date.now,
  ) {
    if (!ORIGIN_PATTERN.test(origin)) {
      throw new TypeError(`HLC origin "${origin}" must be a region or "region.node", each 1-32 characters of [A-Za-z0-9_-]`);
    }
  }

  /** A new timestamp, greater than every one issued or observed before. */
  now(): Hlc {
    const wall = this.wallClock();
    if (wall > this.#wall) {
      this.#wall = wall;
      this.#counter = 0;
    } else {
      this.#bump();
    }
    return encodeHlc({ wall: this.#wall, counter: this.#counter, origin: this.origin });
  }

  /**
   * Moves the clock to a timestamp seen elsewhere — a session's stamps as a
   * store returned them, a replicated record — so that every stamp it issues
   * after is above it, however far this node's wall clock lags.
   */
  observe(remote: Hlc | undefined): void {
    if (remote === undefined) return;
    const first = remote.indexOf('.');
    const wall = wallOf(remote, first);
    if (wall < this.#wall) return;
    const counter = counterOf(remote, first, first < 0 ? -1 : remote.indexOf('.', first + 1));
    if (wall > this.#wall) {
      this.#wall = wall;
      this.#counter = counter;
    } else if (wall === this.#wall && counter > this.#counter) {
      this.#counter = counter;
    }
  }

  #bump(): void {
    if (this.#counter < MAX_COUNTER) {
      this.#counter += 1;
    } else {
      // 65 536 events in one millisecond: borrow the next millisecond rather than overflow.
      this.#wall += 1;
      this.#counter = 0;
    }
  }
}
