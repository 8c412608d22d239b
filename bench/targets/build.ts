/**
 * How to start Tessera: compiled JavaScript, as `npm start` runs it, but built
 * into the bench's own folder (bench/.build/, rebuilt when any file under src/
 * is newer) so that someone running `npm run build` during a long run cannot
 * change the code under test halfway. Falls back to
 * `node --import tsx src/main.ts` when the build produces no entry point.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface TesseraCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly description: string;
  readonly warning?: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Node options for Tessera's process from BENCH_TESSERA_NODE_OPTIONS (e.g. "--v8-pool-size=1"), to compare runtime settings. */
function benchNodeOptions(): string[] {
  return (process.env['BENCH_TESSERA_NODE_OPTIONS'] ?? '').split(/\s+/).filter((option) => option !== '');
}

export function tesseraCommand(root: string): TesseraCommand {
  const options = benchNodeOptions();
  const withOptions = options.length === 0 ? '' : ` ${options.join(' ')} (BENCH_TESSERA_NODE_OPTIONS)`;
  const outDir = join(root, 'bench', '.build');
  const entry = join(outDir, 'src', 'main.js');
  const fresh = (): boolean => existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(root, 'src'));
  let warning: string | undefined;
  if (!fresh()) {
    const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], {
      cwd: root,
      encoding: 'utf8',
    });
    if (build.status !== 0) {
      // tsc still emits JavaScript on type errors (work in progress elsewhere); say so in the report.
      warning = `the build reported type errors; benchmarked the emitted JavaScript anyway:\n${(build.stdout + build.stderr).trim().split('\n').slice(0, 5).join('\n')}`;
    }
  }
  if (existsSync(entry)) {
    return {
      command: process.execPath,
      args: [...options, entry],
      description: `compiled with tsconfig.build.json (as npm run build) into bench/.build, run with node${withOptions}`,
      ...(warning ? { warning } : {}),
    };
  }
  return {
    command: process.execPath,
    args: [...options, '--import', 'tsx', join(root, 'src', 'main.ts')],
    description: `node${withOptions} --import tsx src/main.ts (the build produced no main.js)`,
    warning: warning ?? 'no bench/.build/src/main.js after the build',
  };
}
