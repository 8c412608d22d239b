/**
 * `npm run bench:serve` — the benchmark's targets with its seeded data, kept
 * running for a load generator of your own choosing. The bench measures with
 * wrk and its own open-loop workers; this is how anyone reruns the key
 * comparison (Tessera vs the Fastify hello-world vs express-session +
 * connect-redis, same requests, same data) with another tool.
 *
 * For each target it writes a request file in wrk's mix format and prints the
 * wrk command that replays it; the same file serves any generator that can
 * replay method, path, headers and body per line. Stops on Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { writeMixFile } from './load/closed-loop.js';
import type { MixName } from './load/workload.js';
import { MIXES } from './load/workload.js';
import { restoreOrSeed } from './dataset/snapshot.js';
import { tesseraCommand } from './targets/build.js';
import { startTarget } from './targets/start.js';
import type { Target, TargetId } from './targets/target.js';
import { ALL_TARGETS, FULL } from './lib/options.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const HELP = `npm run bench:serve -- [options]

  --targets a,b,...   subset of: ${ALL_TARGETS.join(', ')}
                      (default: tessera-redis, fastify-hello, express-session)
  --sessions N        seeded sessions per target (default ${FULL.sessions}; snapshots of npm run bench are reused)
  --mix NAME          request mix of the files: ${Object.keys(MIXES).join(', ')} (default reads)
`;

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'tessera-redis,fastify-hello,express-session' },
    sessions: { type: 'string', default: String(FULL.sessions) },
    mix: { type: 'string', default: 'reads' },
    seed: { type: 'string', default: '20261129' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const ids = values.targets.split(',').map((t) => t.trim()) as TargetId[];
for (const id of ids) if (!ALL_TARGETS.includes(id)) throw new Error(`--targets: unknown target "${id}"; choose from ${ALL_TARGETS.join(', ')}`);
const mix = values.mix as MixName;
if (!(mix in MIXES)) throw new Error(`--mix: unknown mix "${values.mix}"; choose from ${Object.keys(MIXES).join(', ')}`);
const count = Number(values.sessions);
const dataSeed = Number(values.seed);
if (!(count > 0) || !(dataSeed > 0)) throw new Error('--sessions and --seed must be positive numbers');

const apiKey = `bench-${randomBytes(12).toString('hex')}`;
const tmpDir = mkdtempSync(join(tmpdir(), 'tessera-serve-'));
const ctx = { apiKey, tessera: ids.some((id) => id.startsWith('tessera')) ? tesseraCommand(ROOT) : { command: process.execPath, args: [] }, tmpDir };
const targets: Target[] = [];
const requestFiles: string[] = [];
const stop = async (): Promise<void> => {
  await Promise.allSettled(targets.splice(0).map((t) => t.stop()));
  for (const path of [tmpDir, ...requestFiles.map(dirname)]) rmSync(path, { recursive: true, force: true });
};
process.on('SIGINT', () => void stop().finally(() => process.exit(0)));
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));

try {
  const lines: string[] = [];
  for (const id of ids) {
    const target = await startTarget(id, ctx);
    targets.push(target);
    process.stdout.write(`${id}: seeding ${count} sessions (or restoring the bench's snapshot)…\n`);
    const seed = await restoreOrSeed(target, { root: ROOT, count, dataSeed, reseed: false, apiKey, onStatus: () => {} });
    await target.settle?.();
    const file = writeMixFile(
      { mix, apiKey, credentialHeader: target.credentialHeader, credentials: seed.credentials, zipfS: 0.99, popularitySeed: dataSeed, loginPrefix: `serve-${Date.now()}` },
      dataSeed,
    );
    requestFiles.push(file);
    lines.push(`${id.padEnd(16)} ${target.origin}  requests: ${file}`);
    lines.push(`  wrk -t1 -c50 -d10s -s ${join(ROOT, 'bench/load/wrk/mix.lua')} ${target.origin}/ -- ${file} 0`);
  }
  process.stdout.write(`\nServing (API key ${apiKey}); ${mix} requests, one per line: METHOD \\t PATH \\t BODY \\t header \\t value …\n\n${lines.join('\n')}\n\nCtrl-C stops every server.\n`);
} catch (error) {
  await stop();
  throw error;
}
