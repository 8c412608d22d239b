/**
 * The global mode: this region's changes out to NATS JetStream, every other
 * region's changes in to the store, and the checks that trust neither NATS
 * nor the network alone.
 *
 * - Out, synchronously (`publish`): a write's change is published by the node
 *   that made it — to the global stream (a majority of regions acknowledges it
 *   before the write returns: RPO 0) or to the regional stream (this region's
 *   servers acknowledge it; the write does not fail when that is slow).
 * - Out, always (`Relay`): the lease holder of the region ships the store's
 *   whole change feed, in order, to the regional streams, so a change a node
 *   committed and then crashed before publishing, or whose publish timed out,
 *   still goes out; JetStream's de-duplication (the change id as
 *   `Nats-Msg-Id`) stores each change once.
 * - In (`Applier`): the lease holder follows every other region's streams
 *   from the positions it stored last (marks kept in the store, beside the
 *   data they describe) and joins their changes into the store; records from
 *   other regions are never sent out again.
 * - Checks: the replicas of every stream are compared (`ReplicaCheck`), and
 *   sessions across regions (`AntiEntropy`).
 *
 * One node of a region holds the lease and runs relay, appliers and checks;
 * every node publishes its own writes and answers consistency questions.
 */
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { HybridLogicalClock } from '../domain/hlc.js';
import { changeId, type Change, type DataPart, type PartName } from '../domain/parts.js';
import type { Operation } from '../domain/operations.js';
import type { ApplyOptions, Caller, Credential, LoadedSession, SessionStore, StoreSettings } from '../store/session-store.js';
import { homeOf } from '../tokens/session-token.js';
import { AuthRouter, AuthUnavailableError, type Ordered } from './auth.js';
import { QUIET_OBSERVER, type ReplicationObserver } from './observer.js';
import { Freshness } from './freshness.js';
import { HomeOwnership } from './home.js';
import { AntiEntropy } from './anti-entropy.js';
import { certificateRefusal } from './client-certificate.js';
import { credsFileAuthenticator, nkeyFileAuthenticator, readCreds } from './credentials.js';
import { Applier } from './applier.js';
import { encodeChange, formatToken, parseToken, shardOf, streamName, subjectOf, type DurabilityClass, type StreamRef } from './layout.js';
import { Relay } from './relay.js';
import { ReplicaCheck } from './replica-check.js';
import type { NatsAuth, ReplicationSettings } from './settings.js';
import { untrustedCertificate } from '../refusals.js';
import { ensureStreams, openJetStream, ReplicationSetupError } from './streams.js';

/** Positions one consistency header may name (one per stream a session's writes went to). */
const MAX_POSITIONS = 8;

/** A global-class change could not be made durable across regions in time. */
export class ReplicationUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the change is stored in this region but was not acknowledged by a majority of regions in time', options);
    this.name = 'ReplicationUnavailableError';
  }
}

const LEASE = 'replication';
const LEASE_MS = 10_000;
const RENEW_MS = 3_000;
/** How long start-up waits for NATS before it goes on without it (and keeps trying). */
const STARTUP_WAIT_MS = 10_000;

/** What runs once NATS is there. */
interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly applier: Applier;
  readonly relay: Relay;
  readonly check: ReplicaCheck | null;
  readonly repair: AntiEntropy;
  readonly ownership: HomeOwnership;
  readonly freshness: Freshness;
  readonly auth: AuthRouter;
  readonly leasesTimer: NodeJS.Timeout;
}

/** Whether the credentials file's JWT has expired (false when it cannot be read now). */
function expiredCreds(path: string): boolean {
  try {
    const { expiresAt } = readCreds(path);
    return expiresAt !== null && expiresAt <= Date.now();
  } catch {
    return false;
  }
}

/** The client's options for what the node authenticates with. */
function authOptions(auth: NatsAuth | undefined): Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'> {
  if (auth === undefined) return {};
  if ('credsFile' in auth) return { authenticator: credsFileAuthenticator(auth.credsFile) };
  if ('nkeyFile' in auth) return { authenticator: nkeyFileAuthenticator(auth.nkeyFile) };
  return { ...auth };
}

/**
 * What a failure to connect means when no retry outlasts it, as a setup error naming what
 * to change; null for what a retry may (a server down, a timeout, an authentication timeout).
 */
function connectSetupError(error: unknown, auth: NatsAuth | undefined): ReplicationSetupError | null {
  if (!(error instanceof Error)) return null;
  const creds = auth !== undefined && 'credsFile' in auth;
  const refused = error.name === 'AuthorizationError' && /authorization violation/i.test(error.message);
  // A JWT past its expiry is refused as "User Authentication Expired" on the connection it expired on, and
  // as an authorization violation when shown again.
  const expired = error.name === 'UserAuthenticationExpiredError' || (creds && refused && expiredCreds(auth.credsFile));
  if (creds && (expired || refused)) {
    return new ReplicationSetupError(
      expired
        ? `the user JWT of TESSERA_NATS_CREDS has expired (${error.message}); renew the credentials file`
        : `the NATS servers of TESSERA_NATS_URL refused the credentials of TESSERA_NATS_CREDS (${error.message}); give the .creds file of a user of an account the servers trust (their operator and resolver), with a JWT valid today`,
      { cause: error },
      ['TESSERA_NATS_CREDS'],
    );
  }
  if (refused && auth !== undefined && 'nkeyFile' in auth) {
    return new ReplicationSetupError(
      `the NATS servers of TESSERA_NATS_URL refused the NKey of TESSERA_NATS_NKEY (${error.message}); give the seed of a user whose public key their authorization block lists (nkey: U…)`,
      { cause: error },
      ['TESSERA_NATS_NKEY'],
    );
  }
  if (refused) {
    return new ReplicationSetupError(
      `the NATS servers of TESSERA_NATS_URL refused its credentials (${error.message}); give a user and password NATS knows in the URL (nats://user:password@host:port)`,
      { cause: error },
      ['TESSERA_NATS_URL'],
    );
  }
  const code = untrustedCertificate(error);
  if (code !== null) {
    return new ReplicationSetupError(
      `the TLS certificate of a NATS server of TESSERA_NATS_URL is not trusted (${code}: ${error.message}); set TESSERA_NATS_CA to the PEM file of the CA that signed it, and check that it names the host of the URL and is valid today`,
      { cause: error },
      ['TESSERA_NATS_URL', 'TESSERA_NATS_CA'],
    );
  }
  return null;
}

export class Replicator {
  readonly #settings: ReplicationSettings;
  readonly #storeSettings: StoreSettings;
  readonly #store: SessionStore;
  readonly #clock: HybridLogicalClock;
  readonly #logger: Logger;
  readonly #observer: ReplicationObserver;
  readonly #holder: string;
  #connected: Connected | null = null;
  #leaseTimer: NodeJS.Timeout | null = null;
  #leased = false;
  #closed = false;
  /** Start-up went on without NATS: from now on even a setup error is retried (it may be mended on the servers). */
  #serving = false;
  /** Whether the connection is up: false from a drop until the client is back. */
  #up = false;

  private constructor(
    settings: ReplicationSettings,
    storeSettings: StoreSettings,
    store: SessionStore,
    clock: HybridLogicalClock,
    logger: Logger,
    observer: ReplicationObserver,
  ) {
    this.#settings = settings;
    this.#storeSettings = storeSettings;
    this.#store = store;
    this.#clock = clock;
    this.#logger = logger;
    this.#observer = observer;
    this.#holder = `${settings.nodeId}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`;
  }

  /**
   * Connects to NATS and creates this region's streams. A cluster that cannot
   * give the classes' guarantees (no JetStream, a region without a tagged
   * server, no `unique_tag`) fails start-up with `ReplicationSetupError`; NATS
   * that cannot be reached within a few seconds (a region starting while cut
   * off) does not: the node serves, global writes answer 503, and it keeps
   * trying in the background.
   */
  static async start(
    settings: ReplicationSettings,
    storeSettings: StoreSettings,
    store: SessionStore,
    clock: HybridLogicalClock,
    logger: Logger,
    observer: ReplicationObserver = QUIET_OBSERVER,
  ): Promise<Replicator> {
    const replicator = new Replicator(settings, storeSettings, store, clock, logger, observer);
    observer.natsConnection(settings.region, 'connecting');
    const ready = replicator.#connectLoop();
    // A setup error fails start-up below; once start-up has gone on, the loop logs it and tries again.
    ready.catch(() => undefined);
    const first = await Promise.race([ready.then(() => 'ready' as const), new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), STARTUP_WAIT_MS).unref())]);
    replicator.#serving = true;
    if (first === 'waiting') logger.warn({ servers: settings.natsUrls }, 'NATS is not reachable yet: serving this region, global writes answer 503 until it is');
    replicator.#tick();
    return replicator;
  }

  /** Connects and sets up, retrying until it works; rejects only on a setup error. */
  async #connectLoop(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt += 1) {
      let nc: NatsConnection | null = null;
      // What this attempt started, stopped again if a later step fails: the next attempt starts its own.
      const started: (() => void)[] = [];
      try {
        nc = await connect({
          servers: [...this.#settings.natsUrls],
          // This region's servers first, in the order given, and only those given.
          noRandomize: true,
          ignoreClusterUpdates: true,
          name: `tessera ${this.#settings.nodeId}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          // The client would give up for good after two refusals of its credentials in a row (a server's
          // users changed under it, a reload): it keeps trying instead, as for any other fault.
          ignoreAuthErrorAbort: true,
          timeout: 3_000,
          ...authOptions(this.#settings.natsAuth),
          // Without files the client still speaks TLS where a tls:// URL or the server asks for it, trusting the system's CAs.
          ...(this.#settings.natsTls === undefined ? {} : { tls: { ...this.#settings.natsTls } }),
        }).catch(async (error: unknown) => {
          throw connectSetupError(error, this.#settings.natsAuth) ?? (await this.#refusedCertificate(error)) ?? error;
        });
        const jsm = await openJetStream(nc);
        await ensureStreams(jsm, this.#settings);
        const js = jetstream(nc, { timeout: this.#settings.globalPublishTimeoutMs });
        const position = (stream: string): Promise<number> => applier.position(stream);
        const appliedUpTo = async (stream: string, sequence: number, waitMs: number): Promise<boolean> => {
          const deadline = Date.now() + waitMs;
          while ((await position(stream)) < sequence) {
            if (Date.now() >= deadline) return false;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          return true;
        };
        const ownership = new HomeOwnership(nc, js, jsm, this.#settings, this.#logger, appliedUpTo, this.#observer);
        const applier = new Applier(nc, this.#store, this.#clock, this.#settings, this.#logger, this.#observer, (change, stream, sequence) =>
          ownership.admits(homeOf(change.sessionId) ?? this.#settings.regions[0]!, change.origin, change.epoch ?? 0, stream, sequence),
        );
        started.push(() => ownership.stop());
        await ownership.start();
        const freshness = new Freshness(jsm, this.#settings, position, () => ownership.lastAcknowledged());
        const auth = new AuthRouter(
          nc,
          this.#store,
          this.#storeSettings,
          this.#settings,
          ownership,
          freshness,
          async (change) => (await this.#publishTo(js, change, 'global'))!,
          position,
          this.#logger,
          this.#observer,
        );
        const leasesTimer = setInterval(() => {
          this.#observer.authLeases(Object.fromEntries(this.#settings.regions.map((home) => [home, ownership.holds(home)])), freshness.freshEverywhere());
        }, 1_000);
        leasesTimer.unref();
        started.push(() => clearInterval(leasesTimer));
        const connected: Connected = {
          nc,
          js,
          applier,
          relay: new Relay(js, this.#store, this.#settings, this.#logger, this.#observer),
          check: this.#settings.natsMonitorUrls.length > 0 ? new ReplicaCheck(nc, this.#settings, this.#logger, this.#observer) : null,
          repair: new AntiEntropy(nc, this.#store, this.#clock, this.#settings, this.#logger, this.#observer),
          ownership,
          freshness,
          auth,
          leasesTimer,
        };
        if (this.#closed) {
          for (const stop of started) stop();
          await nc.close();
          return;
        }
        started.push(() => freshness.stop(), () => auth.stopServing(), () => connected.repair.stopServing());
        freshness.start();
        auth.serve();
        connected.repair.serve();
        this.#connected = connected;
        if (this.#leased) this.#startWork(connected);
        this.#logger.info({ region: this.#settings.region }, 'connected to NATS; streams ready');
        this.#up = true;
        this.#observer.natsConnection(this.#settings.region, 'up');
        void this.#watch(connected);
        return;
      } catch (error) {
        for (const stop of started.reverse()) {
          try {
            stop();
          } catch {
            // An unsubscribe on a connection already closed: nothing left to stop.
          }
        }
        await nc?.close().catch(() => undefined);
        if (error instanceof ReplicationSetupError) {
          if (!this.#serving) {
            this.#logger.error({ err: error }, 'NATS cannot hold the streams as the global mode needs them');
            throw error;
          }
          if (attempt % 20 === 0) this.#logger.error({ err: error, attempt }, 'NATS cannot hold the streams as the global mode needs them; global writes answer 503; retrying');
        } else if (attempt === 0 || attempt % 20 === 0) {
          this.#logger.warn({ err: error, attempt }, 'cannot reach NATS or set up its streams yet; retrying');
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** Math.min(attempt, 3), 4_000)));
      }
    }
  }

  /**
   * A connection over TLS that timed out may be this region's servers refusing this node's client
   * certificate (nats.js loses the server's alert): asked of the servers themselves, all at once
   * (`client-certificate.ts`; one that is down answers nothing), the first refusal in the order of
   * TESSERA_NATS_URL is a setup error naming the variables to set.
   */
  async #refusedCertificate(error: unknown): Promise<ReplicationSetupError | null> {
    // A refused connection or a refusal the client did report is no question for the servers.
    if (!(error instanceof Error) || error.name !== 'TimeoutError') return null;
    const tls = this.#settings.natsTls;
    const asked = this.#settings.natsUrls.filter((url) => tls !== undefined || url.startsWith('tls://'));
    const refusals = await Promise.all(asked.map((url) => certificateRefusal(url, tls)));
    const at = refusals.findIndex((refusal) => refusal !== null);
    if (at === -1) return null;
    const [server, refusal] = [asked[at]!, refusals[at]!];
    const variables = ['TESSERA_NATS_CERT', 'TESSERA_NATS_KEY'];
    if (refusal.kind === 'missing') {
      return new ReplicationSetupError(
        `the NATS server ${server} of TESSERA_NATS_URL requires a client certificate (its tls block verifies clients) and this node has none; set TESSERA_NATS_CERT and TESSERA_NATS_KEY to the PEM files of a certificate signed by a CA the servers trust`,
        { cause: error },
        variables,
      );
    }
    return new ReplicationSetupError(
      `the NATS server ${server} of TESSERA_NATS_URL refused this node's client certificate (${refusal.alert}); TESSERA_NATS_CERT must be signed by a CA the servers trust (their tls ca_file), be valid today and allow client authentication, with its key in TESSERA_NATS_KEY`,
      { cause: error },
      variables,
    );
  }

  /** Whether this node is connected to NATS with its streams set up (the client reconnects by itself after a drop). */
  get connected(): boolean {
    return this.#connected !== null && this.#up && !this.#connected.nc.isClosed();
  }

  /** Whether this node holds the region's lease (runs relay, appliers and checks). */
  get leading(): boolean {
    return this.#leased;
  }

  /** The session comparison with other regions, once connected (tests and operators run rounds on demand). */
  get antiEntropy(): AntiEntropy | null {
    return this.#connected?.repair ?? null;
  }

  get replicaCheck(): ReplicaCheck | null {
    return this.#connected?.check ?? null;
  }

  /**
   * Publishes a committed change, with the class its part calls for. Global: waits for a majority of regions and
   * throws `ReplicationUnavailableError` when that does not come in time (the
   * relay ships it later anyway). Regional: waits a moment to learn the
   * stream position, and answers without one rather than fail the write.
   * Resolves to the consistency token, or null.
   */
  async publish(change: Change, part: PartName): Promise<string | null> {
    return this.#publishTo(this.#connected?.js ?? null, change, this.durabilityOf(part));
  }

  /**
   * Orders an auth change of a session at the owner of its home (here, or
   * forwarded), publishes it before applying it, and waits for every region
   * (`auth.ts`). Throws `AuthUnavailableError` when that cannot be done now.
   */
  async order(sessionId: string, caller: Caller, op: Operation, options: ApplyOptions): Promise<Ordered> {
    if (this.#connected === null) throw new AuthUnavailableError('not connected to NATS; retry');
    return this.#connected.auth.order(sessionId, caller, op, options);
  }

  /** Erases a user in every other region (`AntiEntropy.eraseElsewhere`); rejects unless all of them did. */
  async eraseElsewhere(userId: string): Promise<void> {
    if (this.#connected === null) throw new ReplicationUnavailableError({ cause: new Error('not connected to NATS') });
    await this.#connected.repair.eraseElsewhere(userId);
  }

  /** A load for a token check, from this region's copy only while it can be trusted (`auth.ts`). */
  async loadForAuth(sessionId: string, parts: readonly DataPart[], now: number, credential: Credential): Promise<LoadedSession | null> {
    if (this.#connected === null) {
      this.#observer.failedClosed();
      throw new AuthUnavailableError('not connected to NATS: cannot tell whether this region is fresh; retry');
    }
    return this.#connected.auth.load(sessionId, parts, now, credential);
  }

  async #publishTo(js: JetStreamClient | null, change: Change, durability: DurabilityClass): Promise<string | null> {
    const ref: StreamRef = { origin: this.#settings.region, durability, shard: shardOf(change.sessionId, this.#settings.shards) };
    const timeout = durability === 'global' ? this.#settings.globalPublishTimeoutMs : this.#settings.regionalPublishTimeoutMs;
    try {
      if (js === null) throw new Error('not connected to NATS');
      const ack = await js.publish(subjectOf(ref), encodeChange(change), { msgID: changeId(change), timeout });
      this.#observer.published(durability, 'ok');
      return formatToken(ref, ack.seq);
    } catch (error) {
      const outcome = /timeout/i.test(String((error as Error).message)) ? 'timeout' : 'error';
      this.#observer.published(durability, outcome);
      if (durability === 'global') throw new ReplicationUnavailableError({ cause: error });
      this.#logger.debug({ err: error, change: changeId(change) }, 'regional publish did not complete; the relay will ship the change');
      return null;
    }
  }

  /** Global for the session's existence, devices and tokens, and for data parts configured so; regional otherwise. */
  durabilityOf(part: PartName): DurabilityClass {
    return part === 'meta' || part === 'devices' || (this.#settings.globalParts as readonly string[]).includes(part) ? 'global' : 'regional';
  }

  /**
   * Whether this region has applied the change a consistency token names,
   * waiting up to `waitMs` for it. A token of this region is always caught up.
   */
  async caughtUp(consistency: string, waitMs = this.#settings.consistencyWaitMs): Promise<boolean> {
    // One position per stream the session's writes went to (`a,b,…`): every one must be applied here.
    const deadline = Date.now() + waitMs;
    const waits = consistency
      .split(',', MAX_POSITIONS)
      .map((token) => parseToken(token.trim()))
      .filter((parsed) => parsed !== null && parsed.ref.origin !== this.#settings.region && this.#settings.regions.includes(parsed.ref.origin))
      .map(async (parsed) => {
        const stream = streamName(parsed!.ref);
        for (;;) {
          if ((await this.#position(stream)) >= parsed!.sequence) return true;
          if (Date.now() >= deadline) return false;
          await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - Date.now()))));
        }
      });
    return (await Promise.all(waits)).every(Boolean);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#leaseTimer !== null) clearTimeout(this.#leaseTimer);
    await this.#stopWork();
    this.#leased = false;
    const connected = this.#connected;
    if (connected === null) return;
    this.#stopServing(connected);
    await connected.nc.drain().catch(() => undefined);
  }

  #stopServing(connected: Connected): void {
    connected.repair.stopServing();
    connected.auth.stopServing();
    connected.ownership.stop();
    connected.freshness.stop();
    clearInterval(connected.leasesTimer);
  }

  /**
   * Reports the connection's drops and returns (the client reconnects by itself, and
   * subscriptions and consumers carry on); if it closes without close() — the client gave
   * up — stops what ran on it and connects again from the start.
   */
  async #watch(connected: Connected): Promise<void> {
    const { nc } = connected;
    void nc.closed().then(async (error) => {
      if (this.#closed || this.#connected !== connected) return;
      this.#logger.error({ err: error }, 'the NATS connection closed; setting it up again (global writes answer 503 until then)');
      this.#up = false;
      this.#observer.natsConnection(this.#settings.region, 'down');
      await this.#stopWork();
      this.#stopServing(connected);
      this.#connected = null;
      this.#connectLoop().catch(() => undefined);
    });
    // An error the server repeats (a permission denied at every heartbeat) is logged once a minute.
    const logged = new Map<string, number>();
    for await (const status of nc.status()) {
      if (this.#connected !== connected) return;
      switch (status.type) {
        // Reported once per drop and once per return: the client reports every failed attempt as a
        // disconnect of its own (every 250 ms or so), and may report several returns at once.
        case 'disconnect':
          if (!this.#up) break;
          this.#logger.warn({ server: status.server }, 'lost the connection to NATS; reconnecting (global writes answer 503 meanwhile)');
          this.#up = false;
          this.#observer.natsConnection(this.#settings.region, 'down');
          break;
        case 'reconnect':
          if (this.#up) break;
          this.#logger.info({ server: status.server }, 'reconnected to NATS');
          this.#up = true;
          this.#observer.natsConnection(this.#settings.region, 'up');
          break;
        case 'ldm':
          this.#logger.info({ server: status.server }, 'the NATS server is shutting down (lame duck mode); the client moves to another');
          break;
        case 'error': {
          // What the server said: an authorization refused (then it closes the connection), a permission denied.
          const now = Date.now();
          if ((logged.get(status.error.message) ?? -Infinity) > now - 60_000) break;
          logged.set(status.error.message, now);
          this.#logger.warn({ err: status.error }, 'NATS reported an error on the connection');
          break;
        }
        default:
          break;
      }
    }
  }

  async #position(stream: string): Promise<number> {
    if (this.#connected !== null) return this.#connected.applier.position(stream);
    return Number((await this.#store.readMark(`applied:${stream}`)) ?? 0);
  }

  /** Takes or renews the region's lease; starts or stops the leader's work accordingly. */
  #tick(): void {
    if (this.#closed) return;
    void this.#store
      .lease(LEASE, this.#holder, LEASE_MS, Date.now())
      .then(
        async (held) => {
          if (held && !this.#leased) {
            this.#leased = true;
            this.#observer.lease(true);
            this.#logger.info({ region: this.#settings.region }, 'holding the replication lease: relaying and applying');
            if (this.#connected !== null) this.#startWork(this.#connected);
          } else if (!held && this.#leased) {
            this.#leased = false;
            this.#observer.lease(false);
            await this.#stopWork();
          }
        },
        async (error: unknown) => {
          this.#logger.warn({ err: error }, 'cannot renew the replication lease; pausing relay and appliers');
          this.#leased = false;
          this.#observer.lease(false);
          await this.#stopWork();
        },
      )
      .finally(() => {
        if (!this.#closed) this.#leaseTimer = setTimeout(() => this.#tick(), RENEW_MS);
      });
  }

  #startWork({ relay, applier, check, repair }: Connected): void {
    if (this.#closed) return;
    relay.start();
    applier.start();
    check?.start();
    repair.start();
  }

  async #stopWork(): Promise<void> {
    const connected = this.#connected;
    if (connected === null) return;
    await Promise.all([connected.relay.stop(), connected.applier.stop(), connected.check?.stop(), connected.repair.stop()]);
  }
}
