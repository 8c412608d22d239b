/**
 * `npm run flamegraph -- <file.cpuprofile> [out.svg] [--skip-ms N] [--min-percent P] [--title T]`
 *
 * Renders the flame graph of an existing `.cpuprofile` (from `node --cpu-prof`,
 * e.g. one of bench/results/profiles-<timestamp>/<target>-<mix>/) without
 * running the bench. The SVG goes to `out.svg`, by default `flamegraph.svg`
 * next to the profile (where `npm run bench -- --profile` puts it).
 *
 * Without --skip-ms, a profile written by the bench skips what the bench skipped
 * (start-up and warm-up, read from the results JSON next to the profile folder);
 * any other profile is drawn whole.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeFlameGraph } from './report/flamegraph.js';
import type { BenchResults } from './report/results.js';
import { TARGET_LABEL } from './targets/target.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const USAGE = 'usage: npm run flamegraph -- <file.cpuprofile> [out.svg] [--skip-ms N] [--min-percent P] [--title T]';

/** The bench's record of this profile, if the results JSON of its run is still there. */
function benchRecord(file: string): { skipMs?: number; title: string } | undefined {
  const profileDir = dirname(dirname(file));
  const m = /^profiles-(.+)$/.exec(basename(profileDir));
  if (!m) return undefined;
  for (const name of [`${m[1]}.json`, `${m[1]}-quick.json`]) {
    const json = join(dirname(profileDir), name);
    if (!existsSync(json)) continue;
    const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
    const record = results.profiles.find((p) => resolve(ROOT, p.file) === file);
    if (record) return { skipMs: record.skipMs, title: `${TARGET_LABEL[record.target] ?? record.target}, closed-loop ${record.mix} (${m[1]})` };
  }
  return undefined;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'skip-ms': { type: 'string' },
      'min-percent': { type: 'string' },
      title: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length < 1 || positionals.length > 2) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const input = resolve(positionals[0]!);
  if (!existsSync(input)) throw new Error(`no such file: ${positionals[0]}`);
  const output = resolve(positionals[1] ?? join(dirname(input), 'flamegraph.svg'));
  const record = benchRecord(input);
  const skipMs = values['skip-ms'] !== undefined ? Number(values['skip-ms']) : (record?.skipMs ?? 0);
  const minPercent = values['min-percent'] !== undefined ? Number(values['min-percent']) : undefined;
  if (!Number.isFinite(skipMs) || skipMs < 0 || (minPercent !== undefined && !(minPercent >= 0))) throw new Error(USAGE);
  const title = `CPU flame graph — ${values.title ?? record?.title ?? basename(input)}`;
  const result = writeFlameGraph(input, output, { skipMs, title, ...(minPercent !== undefined ? { minPercent } : {}) });
  process.stdout.write(
    `${relative(process.cwd(), output)}: ${result.frames} frames, depth ${result.depth}, ${result.busyMs} ms busy, idle ${result.idlePercent.toFixed(1)} %` +
      `${skipMs > 0 ? `, first ${skipMs} ms skipped${values['skip-ms'] === undefined ? ' (as the bench did)' : ''}` : ''}\n`,
  );
}

try {
  main();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
