/**
 * A TCP proxy on 127.0.0.1 that stands for a wide-area link in the
 * simulation: it forwards every connection to one target port, holding each
 * direction's bytes for `oneWayMs` (so a round trip through it costs twice
 * that), and it can be cut and healed like a real network path.
 *
 * What a cut does, and why (a real cut between two hosts — an iptables DROP —
 * as TCP sees it):
 * - Nothing crosses, in either direction, and neither end is told: no RST, no
 *   FIN. Bytes written meanwhile are held (TCP's retransmission queue), never
 *   dropped: TCP never delivers a stream with a hole. An endpoint notices the
 *   cut through its own keep-alives (NATS: PINGs unanswered for
 *   `ping_interval × ping_max`) — or, if it keeps writing, when its TCP gives
 *   up retransmitting: bytes held longer than `giveUpMs` close the connection
 *   of the side that wrote them, as the kernel does after `tcp_retries2`
 *   retransmissions. That matters for NATS 2.9.10, which counts its own
 *   outgoing messages as activity and so never PINGs a route it keeps writing
 *   to (a JetStream leader's heartbeats): without a give-up such a route would
 *   stay up on the writing side for the whole cut.
 * - New connections are accepted and then blackholed: no upstream connection
 *   is opened and nothing is forwarded, like a SYN answered by nobody (the
 *   proxy cannot leave a SYN unanswered, so the dialer sees a connection that
 *   never says anything, which NATS treats the same way: a stale route).
 * - A close during the cut does not cross it either (a FIN is a packet too).
 * On heal, held bytes are delivered in order; a side that was closed or reset
 * during the cut makes the proxy close the other side now (where a peer's
 * kernel would answer with an RST for a connection it no longer knows; the
 * proxy closes rather than resets, because Node 20.20 was seen spinning forever at exit after
 * `resetAndDestroy`); blackholed connections that are still open get their
 * upstream connection then (as a retried SYN). So a short cut loses nothing
 * and breaks no connection, and a long one breaks what an endpoint or its TCP
 * gave up on — as TCP does.
 *
 * Delays can be changed at run time; order is kept (a chunk is never
 * delivered before one read earlier). The delay is per chunk read, with
 * setTimeout's millisecond granularity: good for tens of milliseconds, not
 * for microseconds.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

const HOST = '127.0.0.1';
/** Above this many bytes held in one direction, stop reading until it drains. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;

export interface DelayProxyOptions {
  /** Port the proxy forwards to, on 127.0.0.1. */
  readonly targetPort: number;
  /** Delay added to each direction. @default 0 */
  readonly oneWayMs?: number;
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Shown in errors and `status`. */
  readonly label?: string;
  /**
   * During a cut, a connection whose side has had bytes held this long is closed on
   * that side (TCP giving up on retransmissions); `Infinity` never. @default DEFAULT_GIVE_UP_MS
   */
  readonly giveUpMs?: number;
}

/** As Linux with `net.ipv4.tcp_retries2 = 5` (≈ 12.6 s at the 200 ms minimum RTO); the kernel default of 15 takes ≈ 15 min. */
export const DEFAULT_GIVE_UP_MS = 12_000;

export interface DelayProxy {
  readonly port: number;
  readonly label: string;
  readonly targetPort: number;
  /** The delay of each direction, in ms. */
  oneWayMs: number;
  readonly isCut: boolean;
  /** Connections open now (including blackholed ones). */
  readonly openConnections: number;
  /** Connections accepted since the proxy started. */
  readonly accepted: number;
  /** Stops all forwarding both ways, silently (see the file comment). */
  cut(): void;
  /** Resumes forwarding; held bytes are delivered, connections closed meanwhile close their other side. */
  heal(): void;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

interface Held {
  /** When to deliver it. */
  readonly at: number;
  /** When it was read (written by the sender). */
  readonly readAt: number;
  readonly chunk: Buffer;
}

/** One direction of one connection: reads `from`, writes to `to` after the delay. */
class Lane {
  readonly #queue: Held[] = [];
  #queuedBytes = 0;
  #lastAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #ended = false;
  to: Socket | null = null;

  constructor(
    readonly from: Socket,
    private readonly link: { oneWayMs: number; isCut: boolean },
  ) {}

  push(chunk: Buffer): void {
    // Never before a chunk read earlier, even when the delay was just lowered.
    const now = performance.now();
    const at = Math.max(now + this.link.oneWayMs, this.#lastAt);
    this.#lastAt = at;
    this.#queue.push({ at, readAt: now, chunk });
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > HIGH_WATER_BYTES) this.from.pause();
    this.schedule();
  }

  /** The source ended (FIN): pass it on once everything before it was delivered. */
  end(): void {
    this.#ended = true;
    this.schedule();
  }

  /** When the oldest byte not yet delivered was read, or null when none is waiting. */
  get oldestHeldAt(): number | null {
    return this.#queue[0]?.readAt ?? null;
  }

  schedule(): void {
    if (this.#timer !== null || this.link.isCut || this.to === null) return;
    const head = this.#queue[0];
    if (head === undefined) {
      if (this.#ended) this.to.end();
      return;
    }
    this.#timer = setTimeout(() => this.#deliver(), Math.max(0, Math.ceil(head.at - performance.now())));
  }

  #deliver(): void {
    this.#timer = null;
    if (this.link.isCut || this.to === null) return;
    // A timer may fire a little early (libuv's loop clock); what is not due yet waits for the next one.
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
      const { chunk } = this.#queue.shift()!;
      this.#queuedBytes -= chunk.length;
      if (!this.to.destroyed) this.to.write(chunk);
    }
    if (this.#queuedBytes < LOW_WATER_BYTES && this.from.isPaused()) this.from.resume();
    this.schedule();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | null;
  readonly up: Lane; // client → upstream
  down: Lane | null; // upstream → client
  /** A side closed while the link was cut; the other side is closed on heal. */
  closedDuringCut: boolean;
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const label = options.label ?? `proxy→${options.targetPort}`;
  const link = { oneWayMs: options.oneWayMs ?? 0, isCut: false };
  const giveUpMs = options.giveUpMs ?? DEFAULT_GIVE_UP_MS;
  let cutAt = 0;
  let giveUpTimer: NodeJS.Timeout | null = null;
  const pairs = new Set<Pair>();
  let accepted = 0;

  const destroy = (pair: Pair): void => {
    pairs.delete(pair);
    pair.up.stop();
    pair.down?.stop();
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const onSideClosed = (pair: Pair): void => {
    if (link.isCut) pair.closedDuringCut = true;
    else destroy(pair);
  };

  const openUpstream = (pair: Pair): void => {
    const upstream = connect({ host: HOST, port: options.targetPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    pair.upstream = upstream;
    const down = new Lane(upstream, link);
    down.to = pair.client;
    pair.down = down;
    pair.up.to = upstream;
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    upstream.on('end', () => down.end());
    upstream.on('error', () => onSideClosed(pair));
    upstream.on('close', () => onSideClosed(pair));
    pair.up.schedule();
  };

  // Half-open sockets: a FIN from one side must not close the other before the held bytes are delivered.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted += 1;
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: null, up: new Lane(client, link), down: null, closedDuringCut: false };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => pair.up.push(chunk));
    client.on('end', () => pair.up.end());
    client.on('error', () => onSideClosed(pair));
    client.on('close', () => onSideClosed(pair));
    if (!link.isCut) openUpstream(pair);
  });

  /** During a cut: the side whose bytes waited longer than `giveUpMs` is closed (its TCP gave up). */
  const giveUp = (): void => {
    const now = performance.now();
    const expired = (lane: Lane | null): boolean => {
      const heldAt = lane?.oldestHeldAt ?? null;
      return heldAt !== null && now - Math.max(heldAt, cutAt) >= giveUpMs;
    };
    for (const pair of pairs) {
      if (expired(pair.up) && !pair.client.destroyed) {
        pair.closedDuringCut = true;
        pair.up.stop();
        pair.client.destroy();
      }
      if (expired(pair.down) && pair.upstream !== null && !pair.upstream.destroyed) {
        pair.closedDuringCut = true;
        pair.down!.stop();
        pair.upstream.destroy();
      }
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${label}: no TCP address`);

  return {
    port: address.port,
    label,
    targetPort: options.targetPort,
    get oneWayMs() {
      return link.oneWayMs;
    },
    set oneWayMs(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${label}: delay must be a number of ms ≥ 0, got ${ms}`);
      link.oneWayMs = ms;
    },
    get isCut() {
      return link.isCut;
    },
    get openConnections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      if (link.isCut) return;
      link.isCut = true;
      cutAt = performance.now();
      for (const pair of pairs) {
        pair.up.stop();
        pair.down?.stop();
      }
      if (Number.isFinite(giveUpMs)) giveUpTimer = setInterval(giveUp, Math.min(250, Math.max(10, giveUpMs / 4)));
    },
    heal() {
      if (!link.isCut) return;
      link.isCut = false;
      if (giveUpTimer !== null) clearInterval(giveUpTimer);
      giveUpTimer = null;
      for (const pair of [...pairs]) {
        if (pair.closedDuringCut) {
          destroy(pair);
          continue;
        }
        if (pair.upstream === null) openUpstream(pair);
        else {
          pair.up.schedule();
          pair.down?.schedule();
        }
      }
    },
    async close() {
      if (giveUpTimer !== null) clearInterval(giveUpTimer);
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
