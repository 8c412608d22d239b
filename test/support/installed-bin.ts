/**
 * The `tessera` command as an installed package has it: the root package
 * compiled by `tsc -p tsconfig.build.json` into a fresh folder beside its
 * package.json (and the checkout's node_modules), run through the path the
 * package.json `bin` names with plain `node` — no tsx, no source files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './process.js';

export interface InstalledBin {
  /** The package folder (package.json, dist/, node_modules → the checkout's). */
  readonly dir: string;
  /** Absolute path of the `tessera` bin. */
  readonly bin: string;
  remove(): void;
}

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Compiles the package into a temporary folder (tens of seconds on a busy machine). */
export async function installBin(): Promise<InstalledBin> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bin-'));
  copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const built = await run(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: REPO_ROOT });
  if (built.code !== 0) throw new Error(`tsc failed: ${built.stdout}${built.stderr}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return { dir, bin: join(dir, manifest.bin.tessera!), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The parent's environment without any TESSERA_* variable, plus `env`. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_') && name !== 'NODE_OPTIONS'));
  return { ...base, TESSERA_LOG_LEVEL: 'warn', ...env };
}

export function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, [...args], { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: string[] = [];
    const err: string[] = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out.join(''), stderr: err.join('') });
    });
    // A command that exits without reading its input (`script --version`) closes the pipe first: not an error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');
  });
}
