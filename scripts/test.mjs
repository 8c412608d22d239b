#!/usr/bin/env node
// Runs every test file under test/ and client/ with Node's test runner (through tsx).
// Usage: node scripts/test.mjs [path-filter ...]   e.g. `node scripts/test.mjs store http`
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

const roots = ['test', 'client'];
const filters = process.argv.slice(2);
// TESSERA_TEST_EXCLUDE=test/sim leaves out the files under a path (.ci/run does on Node 24; see D74).
const excluded = (process.env.TESSERA_TEST_EXCLUDE ?? '').split(',').filter(Boolean);

function collect(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    if (name === 'node_modules' || name === 'dist') return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return /\.test\.ts$/.test(name) ? [path] : [];
  });
}

// The multi-region simulations last: they run one at a time (test/sim/one-at-a-time.ts), and one
// waiting for another holds a slot of the runner, so they should not wait while other files could run.
const isSim = (f) => f.startsWith(join('test', 'sim'));
const files = roots
  .flatMap(collect)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !excluded.some((x) => f.startsWith(x)))
  .sort((a, b) => Number(isSim(a)) - Number(isSim(b)) || (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || 'test/ or client/'}`);
  process.exit(1);
}
const concurrency = process.env.TESSERA_TEST_CONCURRENCY ?? '2';
// --test-force-exit: a file whose tests have all ended exits even if something it started still
// holds its event loop (a server process a failed before hook never handed to its after hook). Without
// it, such a file never ends and the whole run waits for it, as one CI run did until its time ran out.
// The test support modules kill the processes they started when the file exits.
// --test-timeout: a test that hangs fails after ten minutes, naming itself, instead of holding the
// run until CI's time is up. The longest test takes about 100 s here (a simulation, waiting for its
// turn included).
const runner = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-timeout=600000', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, TESSERA_LOG_LEVEL: process.env.TESSERA_LOG_LEVEL ?? 'silent' } },
);
// A signal that stops this script stops the runner, which passes it on to the test files; their
// support modules then kill the servers they started (sim/processes.ts, `exitOnStopSignals`).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => runner.kill(signal));
runner.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 15)));
