/**
 * The epoch records of the homes, as one node knows them, and the rules that
 * judge an auth change by them — no I/O (`home.ts` reads and appends the
 * records, and learns them from heartbeats and other regions).
 *
 * A home with no record owns itself at epoch 0. Each record names the next
 * owner and the fence: per global stream of the owner before, the last
 * sequence that belongs to the epoch before. Records are kept sorted by
 * epoch and never forgotten; one may be missing here (the epoch stream of
 * NATS 2.9.10 can lose acknowledged messages, D90), and the rules say
 * `unknown` rather than guess wherever a missing record would matter.
 */

export interface EpochRecord {
  readonly home: string;
  readonly owner: string;
  readonly epoch: number;
  /** Per global stream of the previous owner: the last sequence that belongs to the previous epoch. */
  readonly fence: Readonly<Record<string, number>>;
}

/** How an auth change stands against the epochs known: `unknown` until the records it needs are known. */
export type Verdict = 'valid' | 'ended' | 'unknown';

/** What adding a record did; `record` is the one added, checked (or the one told, for a conflict). */
export type Added =
  | { readonly kind: 'new'; readonly record: EpochRecord }
  | { readonly kind: 'known' }
  | { readonly kind: 'conflict'; readonly known: EpochRecord; readonly record: EpochRecord }
  | { readonly kind: 'malformed' };

export class EpochBook {
  /** Per home, its records sorted by epoch. */
  readonly #records = new Map<string, EpochRecord[]>();

  constructor(private readonly regions: readonly string[]) {}

  /** The region ordering a home's sessions, and its epoch: the latest record known. */
  ownerOf(home: string): { readonly owner: string; readonly epoch: number } {
    const last = this.latest(home);
    return last === undefined ? { owner: home, epoch: 0 } : { owner: last.owner, epoch: last.epoch };
  }

  /** A home's latest record known (none: it owns itself at epoch 0). */
  latest(home: string): EpochRecord | undefined {
    return this.#records.get(home)?.at(-1);
  }

  /** Whether the record of a home's epoch is known. */
  knows(home: string, epoch: number): boolean {
    return (this.#records.get(home) ?? []).some((record) => record.epoch === epoch);
  }

  /** The records known of some homes, each home's in epoch order. */
  records(homes: readonly string[]): EpochRecord[] {
    return homes.flatMap((home) => this.#records.get(home) ?? []);
  }

  /**
   * Adds a record wherever its epoch falls. One already known is left as it
   * is; another record of an epoch already known (possible only if the
   * stream lost one and a node that never saw it appended another) keeps the
   * first, and says so.
   */
  add(record: unknown): Added {
    if (!this.#wellFormed(record)) return { kind: 'malformed' };
    const list = this.#records.get(record.home) ?? [];
    const checked: EpochRecord = { home: record.home, owner: record.owner, epoch: record.epoch, fence: { ...record.fence } };
    const known = list.find((r) => r.epoch === checked.epoch);
    if (known !== undefined) return known.owner === checked.owner ? { kind: 'known' } : { kind: 'conflict', known, record: checked };
    const at = list.findIndex((r) => r.epoch > checked.epoch);
    list.splice(at < 0 ? list.length : at, 0, checked);
    this.#records.set(checked.home, list);
    return { kind: 'new', record: checked };
  }

  /**
   * How an auth change published by `origin` for `home` at `epoch`, stored at
   * `stream`:`sequence`, stands: `valid` when the epoch is the origin's and
   * the position is not past the fence of the epoch after it; `ended` when
   * not; `unknown` when a record it needs is not known here (an epoch later
   * than any known, or one missing between two known).
   */
  judge(home: string, origin: string, epoch: number, stream: string, sequence: number): Verdict {
    const records = this.#records.get(home) ?? [];
    const latest = records.at(-1)?.epoch ?? 0;
    if (epoch > latest) return 'unknown';
    const current = epoch === 0 ? { owner: home } : records.find((r) => r.epoch === epoch);
    const next = records.find((r) => r.epoch === epoch + 1);
    const withinFence = (after: EpochRecord): Verdict => {
      const fence = after.fence[stream];
      return fence !== undefined && sequence <= fence ? 'valid' : 'ended';
    };
    if (current === undefined) {
      // This epoch's record is missing, but the next one's fence names the streams of the owner it
      // took over from: the change counts if it is on one of them, up to the fence.
      return next === undefined ? 'unknown' : withinFence(next);
    }
    if (current.owner !== origin) return 'ended';
    if (next === undefined) return epoch === latest ? 'valid' : 'unknown';
    return withinFence(next);
  }

  #wellFormed(record: unknown): record is EpochRecord {
    if (typeof record !== 'object' || record === null) return false;
    const { home, owner, epoch, fence } = record as Partial<EpochRecord>;
    return (
      typeof home === 'string' &&
      this.regions.includes(home) &&
      typeof owner === 'string' &&
      this.regions.includes(owner) &&
      typeof epoch === 'number' &&
      Number.isSafeInteger(epoch) &&
      epoch > 0 &&
      typeof fence === 'object' &&
      fence !== null &&
      !Array.isArray(fence) &&
      Object.values(fence).every((sequence) => Number.isSafeInteger(sequence) && sequence >= 0)
    );
  }
}
