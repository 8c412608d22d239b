/**
 * `npm run sim:measure`: measures the nats-server facts the global mode is
 * designed around, on the simulation (3 regions, one server each, routes
 * through the delay proxies). Prints figures; asserts nothing.
 *
 *   npm run sim:measure -- [--only latency,cas,kill,partition] [--samples 200]
 *                          [--rounds 100] [--tries 3] [--partition-s 30]
 *
 * - latency:   publish-ack p50/p99 to an R3 stream (one replica per region) at
 *              RTT 20, 60 and 100 ms, leader in the publisher's region and elsewhere.
 * - cas:       two concurrent writers per round, from two regions, against the
 *              same expected sequence: per-subject (Nats-Expected-Last-Subject-Sequence),
 *              KV update, and stream-level (Nats-Expected-Last-Sequence).
 * - kill:      kill -9 of a stream leader's server under writes: time until
 *              writes resume, acknowledged messages lost, timed-out publishes stored.
 * - partition: cut the leader's region for 30 s under writes from every region,
 *              heal, compare the replicas, then move the leader onto each replica
 *              and count the stream's messages and the acknowledged ones missing.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startSim, type Sim } from './harness.js';
import { addStream, apiErrorCode, connectTo, jetstreamManager, moveLeaderTo, readStream, replicaStates, stepDown, waitForLeader } from './jetstream.js';

const REGIONS = ['eu', 'us', 'ap'] as const;

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string', default: 'latency,cas,kill,partition' },
    samples: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '100' },
    tries: { type: 'string', default: '3' },
    'partition-s': { type: 'string', default: '30' },
  },
});
const sections = new Set(flags.only.split(','));
const SAMPLES = Number(flags.samples);
const ROUNDS = Number(flags.rounds);
const TRIES = Number(flags.tries);
const PARTITION_MS = Number(flags['partition-s']) * 1000;

const print = (line = ''): void => void process.stdout.write(`${line}\n`);
const ms = (value: number): string => `${value.toFixed(1)} ms`;

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Clients {
  readonly nc: Record<string, NatsConnection>;
  readonly js: Record<string, JetStreamClient>;
  readonly jsm: JetStreamManager;
}

async function clients(sim: Sim): Promise<Clients> {
  const nc: Record<string, NatsConnection> = {};
  const js: Record<string, JetStreamClient> = {};
  for (const region of REGIONS) {
    nc[region] = await connectTo(sim, region, `measure-${region}`);
    js[region] = jetstream(nc[region]!, { timeout: 10_000 });
  }
  return { nc, js, jsm: await jetstreamManager(nc.eu!) };
}

async function closeClients(c: Clients): Promise<void> {
  await Promise.all(Object.values(c.nc).map((n) => n.close()));
}

async function publishWhenReachable(js: JetStreamClient, subject: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await js.publish(subject, 'warm-up', { timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 50) throw error;
      await sleep(200);
    }
  }
}

// ---------------------------------------------------------------------------
// Publish-ack latency

async function measureLatency(sim: Sim, c: Clients): Promise<void> {
  print('## Publish-ack latency, R3 stream (one replica per region), publisher on eu, one publish in flight');
  print(`(${SAMPLES} samples per row after 20 warm-ups; p99 is the value 99 % of the samples do not exceed: with ${SAMPLES}, the ${ordinal(SAMPLES - Math.ceil(0.99 * SAMPLES) + 1)} slowest)`);
  print();
  print('| RTT | leader | p50 | p99 | max | step-downs to place the leader |');
  print('| --- | --- | --- | --- | --- | --- |');
  await addStream(c.jsm, { name: 'LAT', subjects: ['lat.>'], num_replicas: 3 });
  await waitForLeader(c.jsm, 'LAT');
  await publishWhenReachable(c.js.eu!, 'lat.x');
  for (const rtt of [20, 60, 100]) {
    for (const [a, b] of [['eu', 'us'], ['eu', 'ap'], ['us', 'ap']] as const) sim.setRtt(a, b, rtt);
    for (const where of ['eu', 'us'] as const) {
      const started = performance.now();
      const tries = await moveLeaderTo(c.nc.eu!, c.jsm, 'LAT', where);
      const moveMs = performance.now() - started;
      if (tries === null) {
        print(`| ${rtt} ms | ${where} | – | – | – | not placed after 12 step-downs |`);
        continue;
      }
      for (let i = 0; i < 20; i += 1) await c.js.eu!.publish('lat.x', 'warm');
      const samples: number[] = [];
      for (let i = 0; i < SAMPLES; i += 1) {
        const t = performance.now();
        await c.js.eu!.publish('lat.x', `sample ${i}`);
        samples.push(performance.now() - t);
      }
      samples.sort((x, y) => x - y);
      const label = where === 'eu' ? 'eu (publisher’s region)' : 'us (elsewhere)';
      print(`| ${rtt} ms | ${label} | ${ms(percentile(samples, 50))} | ${ms(percentile(samples, 99))} | ${ms(samples.at(-1)!)} | ${tries} (${(moveMs / 1000).toFixed(1)} s) |`);
    }
  }
  for (const [a, b] of [['eu', 'us'], ['eu', 'ap'], ['us', 'ap']] as const) sim.setRtt(a, b, 60);
  print();
}

// ---------------------------------------------------------------------------
// Compare-and-set

type Outcome = 'both' | 'one' | 'none';

async function casRounds(write: (writer: 0 | 1, round: number) => Promise<unknown>, readLast: () => Promise<number>, refusedCode: (error: unknown) => boolean) {
  const counts: Record<Outcome, number> = { both: 0, one: 0, none: 0 };
  const otherErrors = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round += 1) {
    await readLast();
    const results = await Promise.allSettled([write(0, round), write(1, round)]);
    const won = results.filter((r) => r.status === 'fulfilled').length;
    counts[won === 2 ? 'both' : won === 1 ? 'one' : 'none'] += 1;
    for (const r of results) {
      if (r.status === 'rejected' && !refusedCode(r.reason)) {
        const text = String((r.reason as Error).message ?? r.reason);
        otherErrors.set(text, (otherErrors.get(text) ?? 0) + 1);
      }
    }
  }
  return { counts, otherErrors };
}

async function measureCas(c: Clients): Promise<void> {
  print('## Compare-and-set with two concurrent writers (eu and us; stream leader wherever it landed), RTT 60 ms');
  print(`(${ROUNDS} rounds; each round both writers publish against the same expected sequence at once)`);
  print();
  print('| expectation | stream leader | rounds both succeeded | rounds exactly one | rounds none | other errors |');
  print('| --- | --- | --- | --- | --- | --- |');
  const writers = [c.js.eu!, c.js.us!] as const;

  await addStream(c.jsm, { name: 'CAS_SUBJECT', subjects: ['cass.>'], num_replicas: 3 });
  await waitForLeader(c.jsm, 'CAS_SUBJECT');
  for (const js of writers) await publishWhenReachable(js, 'cass.other');
  let last = 0;
  const bySubject = await casRounds(
    (w, round) => writers[w].publish('cass.doc', `r${round} w${w}`, { expect: { lastSubjectSequence: last } }),
    async () => {
      try {
        last = (await c.jsm.streams.getMessage('CAS_SUBJECT', { last_by_subj: 'cass.doc' }))?.seq ?? 0;
      } catch {
        last = 0;
      }
      return last;
    },
    (e) => apiErrorCode(e) === 10071,
  );
  row('per subject (Nats-Expected-Last-Subject-Sequence)', (await c.jsm.streams.info('CAS_SUBJECT')).cluster?.leader, bySubject);

  const kvm = new Kvm(c.nc.eu!);
  const bucketEu = await kvm.create('cas', { replicas: 3 });
  const bucketUs = await new Kvm(c.nc.us!).open('cas');
  await bucketEu.put('doc', 'start');
  let revision = 0;
  const kv = await casRounds(
    (w, round) => (w === 0 ? bucketEu : bucketUs).update('doc', `r${round} w${w}`, revision),
    async () => {
      revision = (await bucketEu.get('doc'))?.revision ?? 0;
      return revision;
    },
    (e) => apiErrorCode(e) === 10071 || /wrong last sequence/.test(String(e)),
  );
  row('KV update (R3 bucket)', (await c.jsm.streams.info('KV_cas')).cluster?.leader, kv);

  await addStream(c.jsm, { name: 'CAS_STREAM', subjects: ['cast.>'], num_replicas: 3 });
  await waitForLeader(c.jsm, 'CAS_STREAM');
  for (const js of writers) await publishWhenReachable(js, 'cast.other');
  let lastSeq = 0;
  const byStream = await casRounds(
    (w, round) => writers[w].publish('cast.doc', `r${round} w${w}`, { expect: { lastSequence: lastSeq } }),
    async () => {
      lastSeq = (await c.jsm.streams.info('CAS_STREAM')).state.last_seq;
      return lastSeq;
    },
    (e) => apiErrorCode(e) === 10071,
  );
  row('stream-level (Nats-Expected-Last-Sequence)', (await c.jsm.streams.info('CAS_STREAM')).cluster?.leader, byStream);
  print();

  function row(label: string, leader: string | undefined, result: Awaited<ReturnType<typeof casRounds>>): void {
    const others = [...result.otherErrors].map(([text, n]) => `${n}× ${text}`).join('; ') || '–';
    print(`| ${label} | ${leader ?? '?'} | ${result.counts.both} | ${result.counts.one} | ${result.counts.none} | ${others} |`);
  }
}

// ---------------------------------------------------------------------------
// Writers that record what was acknowledged

interface WriteLog {
  /** Acknowledged ids, with when the ack came (performance.now()). */
  acked: Map<string, number>;
  timedOut: Set<string>;
  failed: number;
  firstAckAfter(t: number): number | null;
}

/** `perRegion` writers in each of `regions`, one publish in flight each, until `stop` resolves. */
function startWriters(c: Clients, subjectPrefix: string, regions: readonly string[], stop: Promise<void>, perRegion = 2): { log: WriteLog; done: Promise<void> } {
  const ackTimes: number[] = [];
  const log: WriteLog = {
    acked: new Map(),
    timedOut: new Set(),
    failed: 0,
    firstAckAfter: (t) => ackTimes.find((x) => x > t) ?? null,
  };
  let stopped = false;
  void stop.then(() => (stopped = true));
  const writer = async (region: string, n: number): Promise<void> => {
    for (let i = 0; !stopped; i += 1) {
      const id = `${region}-${n}-${i}`;
      try {
        await c.js[region]!.publish(`${subjectPrefix}.${region}`, id, { timeout: 2_000 });
        const now = performance.now();
        log.acked.set(id, now);
        ackTimes.push(now);
      } catch (error) {
        if (/timeout/i.test(String(error))) log.timedOut.add(id);
        else log.failed += 1;
        await sleep(100);
      }
    }
  };
  const done = Promise.all(regions.flatMap((r) => Array.from({ length: perRegion }, (_, n) => writer(r, n)))).then(() => undefined);
  return { log, done };
}

/** The ids in a stream read by `readStream`. */
const idsOf = (bySeq: Map<number, string>): Set<string> => new Set(bySeq.values());

// ---------------------------------------------------------------------------
// kill -9 of the stream leader

async function measureKill(sim: Sim, c: Clients): Promise<void> {
  print('## kill -9 of the stream leader’s nats-server under writes (R3, RTT 60 ms)');
  print('(writers: 2 per surviving region, one publish in flight each, 2 s timeout; the killed server is restarted after writes resume)');
  print();
  print('| try | leader killed | writes resumed after | new leader | acked | acked lost | timed out | timed out but stored |');
  print('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (let attempt = 1; attempt <= TRIES; attempt += 1) {
    const stream = `KILL${attempt}`;
    await addStream(c.jsm, { name: stream, subjects: [`kill${attempt}.>`], num_replicas: 3 });
    const leader = (await waitForLeader(c.jsm, stream)).cluster!.leader!;
    const survivors = REGIONS.filter((r) => r !== leader);
    for (const r of survivors) await publishWhenReachable(c.js[r]!, `kill${attempt}.warm`);
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const { log, done } = startWriters(c, `kill${attempt}`, survivors, stopped);
    await sleep(2_000);
    const killedAt = performance.now();
    await sim.killNats(leader);
    let resumedAfter: number | null = null;
    const deadline = killedAt + 60_000;
    while (performance.now() < deadline) {
      const first = log.firstAckAfter(killedAt + 50);
      if (first !== null) {
        resumedAfter = first - killedAt;
        break;
      }
      await sleep(50);
    }
    await sleep(3_000);
    stop();
    await done;
    await sim.restartNats(leader);
    // Let a timed-out publish that is still in the log be applied, then read everything.
    await sleep(3_000);
    const newLeader = (await waitForLeader(c.jsm, stream)).cluster?.leader ?? '?';
    const stored = idsOf(await readStream(c.jsm, stream));
    const lost = [...log.acked.keys()].filter((id) => !stored.has(id)).length;
    const timedOutStored = [...log.timedOut].filter((id) => stored.has(id)).length;
    print(
      `| ${attempt} | ${leader} | ${resumedAfter === null ? 'not within 60 s' : `${(resumedAfter / 1000).toFixed(1)} s`} | ${newLeader} | ${log.acked.size} | ${lost} | ${log.timedOut.size} | ${timedOutStored} |`,
    );
  }
  print();
}

// ---------------------------------------------------------------------------
// 30 s partition of the leader's region, heal, replicas compared, leader moved

async function measurePartition(sim: Sim, c: Clients): Promise<void> {
  print(`## ${PARTITION_MS / 1000} s partition of the stream leader’s region under writes, heal, replicas compared, leader moved onto each replica`);
  print('(R3, RTT 60 ms; writers: 2 per region, also in the cut one, one publish in flight each, 2 s timeout)');
  print();
  for (let attempt = 1; attempt <= TRIES; attempt += 1) {
    const stream = `PART${attempt}`;
    await addStream(c.jsm, { name: stream, subjects: [`part${attempt}.>`], num_replicas: 3 });
    const leader = (await waitForLeader(c.jsm, stream)).cluster!.leader!;
    for (const r of REGIONS) await publishWhenReachable(c.js[r]!, `part${attempt}.warm`);
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const { log, done } = startWriters(c, `part${attempt}`, REGIONS, stopped);
    await sleep(2_000);
    const cutAt = performance.now();
    await sim.partition(leader);
    await sleep(PARTITION_MS);
    const healAt = performance.now();
    await sim.heal(leader);
    await sim.waitForRoutes(60_000);
    await sleep(5_000);
    stop();
    await done;
    // Give catch-up its chance before comparing.
    await sleep(5_000);
    const replicas = await replicaStates(sim, stream);
    const agree = new Set(replicas.map((r) => `${r.messages}/${r.lastSeq}`)).size === 1;
    print(`### try ${attempt}: leader before the cut ${leader}; ${log.acked.size} acked, ${log.timedOut.size} timed out, ${log.failed} refused`);
    print(`replicas 10 s after the heal (messages / last seq, from each server's /jsz): ${replicas.map((r) => `${r.server} ${r.messages}/${r.lastSeq}`).join(', ')} → ${agree ? 'agree' : 'DIVERGE'}`);
    print();
    print('| leader | step-downs | stream messages | last seq | acked missing (by writer region; acked before the cut / during / after) | timed out but stored | sequences whose content differs from the first leader’s |');
    print('| --- | --- | --- | --- | --- | --- | --- |');
    const visited = new Set<string>();
    let first: Map<number, string> | null = null;
    for (let move = 0; move < 12 && visited.size < REGIONS.length; move += 1) {
      const info = await waitForLeader(c.jsm, stream);
      const current = info.cluster!.leader!;
      if (!visited.has(current)) {
        visited.add(current);
        const bySeq = await readStream(c.jsm, stream);
        const stored = idsOf(bySeq);
        first ??= bySeq;
        const missing = [...log.acked].filter(([id]) => !stored.has(id));
        const when = (t: number): string => (t < cutAt ? 'before' : t < healAt ? 'during' : 'after');
        const detail = missing.length === 0 ? '' : ` (${summarize(missing.map(([id, t]) => `${id.split('-')[0]} ${when(t)}`))})`;
        const timedOutStored = [...log.timedOut].filter((id) => stored.has(id)).length;
        const differing = [...bySeq].filter(([seq, id]) => first!.get(seq) !== id).length;
        print(`| ${current} | ${move} | ${info.state.messages} | ${info.state.last_seq} | ${missing.length}${detail} | ${timedOutStored} | ${differing} |`);
      }
      await stepDown(c.nc.eu!, c.jsm, stream);
    }
    print();
  }
}

/** "3× eu during, 1× us before" */
function summarize(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => `${n}× ${item}`).join(', ');
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  print(`# NATS measurements on the simulation (${new Date().toISOString()})`);
  const sim = await startSim({ regions: [...REGIONS], rttMs: 60, tessera: false });
  let c: Clients | undefined;
  try {
    c = await clients(sim);
    print(`nats-server ${c.nc.eu!.info?.version}, client @nats-io/transport-node + @nats-io/jetstream + @nats-io/kv 3.4.0`);
    print();
    if (sections.has('latency')) await measureLatency(sim, c);
    if (sections.has('cas')) await measureCas(c);
    if (sections.has('kill')) await measureKill(sim, c);
    if (sections.has('partition')) await measurePartition(sim, c);
  } finally {
    if (c) await closeClients(c);
    await sim.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`measure-nats: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
