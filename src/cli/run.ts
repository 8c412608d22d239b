/**
 * The `tessera` command's dispatch: one function per command. What talks to
 * the admin API is `tessera-admin`'s (client/src/cli.ts), what runs the
 * service is `serve.ts`. Exit codes: 0 done, 1 failed (the message says
 * why), 2 bad usage (`usage.ts`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runAdmin } from '../../client/src/cli.js';
import { ConfigError, type Config } from '../config/config.js';
import { runService } from '../serve.js';
import type { SessionStore, StoreConfig } from '../store/session-store.js';
import { runExport } from './export.js';
import { runImport } from './import.js';
import { inspectReport, parseInspectTarget, SESSION_ID } from './inspect.js';
import { generateKey } from './keys.js';
import { commandConfig, describeStore, openCommandStore } from './store-option.js';
import { EXIT, helpOf, HELP, UsageError } from './usage.js';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  /** Standard output: the command's answer. */
  readonly out: (line: string) => void;
  /** Standard error: usage, failures, notes. */
  readonly err: (line: string) => void;
  /** All of standard input (for `session inspect -`). */
  readonly stdin: () => Promise<string>;
  /** Where progress bars go. @default process.stderr */
  readonly progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The exit code, or 'serving' while `tessera serve` runs (the process then lives until a signal). */
export type CliOutcome = number | 'serving';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A session id is base64url, so one in 64 begins with "-", and parseArgs would read it as a group
 * of short options. No option has a session id's shape (the one short option is -h), so such an
 * argument stays what the operator meant: a session id.
 */
const isDashedSessionId = (arg: string): boolean => arg.startsWith('-') && SESSION_ID.test(arg);

/** Parses a command's options strictly: an unknown option or a missing value is bad usage. */
function parse(command: string, args: readonly string[], options: Options): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  // Each dashed session id goes through parseArgs as a stand-in no option can look like (an
  // argument never holds a NUL), and comes back after it.
  const dashed = new Map<string, string>();
  const standIn = (arg: string, index: number): string => {
    if (!isDashedSessionId(arg)) return arg;
    dashed.set(`\0${index}`, arg);
    return `\0${index}`;
  };
  const restore = (arg: string): string => dashed.get(arg) ?? arg;
  try {
    const { values, positionals } = parseArgs({ args: args.map(standIn), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    const restored = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, typeof value === 'string' ? restore(value) : value]));
    return { values: restored as Record<string, string | boolean | undefined>, positionals: positionals.map(restore) };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), command);
  }
}

function positiveInteger(value: string | boolean | undefined, name: string, fallback: number | undefined, command: string): number | undefined {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(number) || number < 1 || number > 1_000_000) {
    throw new UsageError(`--${name} must be a whole number from 1 to 1000000`, command);
  }
  return number;
}

async function withStore<T>(config: Config, store: StoreConfig, mayCreate: boolean, work: (store: SessionStore) => Promise<T>): Promise<T> {
  let opened: SessionStore;
  try {
    opened = await openCommandStore(config, store, { mayCreate });
  } catch (error) {
    throw new Error(`cannot open ${describeStore(store)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

async function status(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('status', args, { url: { type: 'string' }, 'admin-url': { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`status takes no argument (got "${positionals[0]}")`, 'status');
  const env = typeof values.url === 'string' ? { ...io.env, TESSERA_URL: values.url } : io.env;
  let code = await runAdmin(['status'], env, io.out);
  const adminUrl = values['admin-url'];
  if (typeof adminUrl === 'string') {
    const base = adminUrl.replace(/\/+$/, '');
    try {
      const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = (await ready.json().catch(() => ({}))) as { status?: string; engine?: string; detail?: string };
      io.out(`management: ${ready.status === 200 ? `ready (store: ${body.engine ?? '?'})` : `not ready (${ready.status}${body.detail ? `: ${body.detail}` : ''})`}`);
      if (ready.status !== 200) code = EXIT.failed;
      const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      const global = metrics.split('\n').filter((line) => /^tessera_(replication_nats_connected|replication_lag_seconds|replication_lease|replication_replica_behind_messages|auth_fresh|auth_home_lease)\b/.test(line));
      if (global.length > 0) {
        io.out('global mode:');
        for (const line of global) io.out(`  ${line}`);
      }
    } catch (error) {
      io.out(`management: unreachable at ${base} (${error instanceof Error ? error.message : String(error)})`);
      code = EXIT.failed;
    }
  }
  return code;
}

async function session(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('session', args, { store: { type: 'string' } });
  const [sub, argument, ...rest] = positionals;
  if (sub !== 'inspect') throw new UsageError(sub === undefined ? 'session needs a subcommand: inspect' : `unknown session subcommand "${sub}"`, 'session');
  if (argument === undefined || rest.length > 0) throw new UsageError('session inspect takes one token or session id (or - to read it from standard input)', 'session');
  const target = parseInspectTarget(argument === '-' ? await io.stdin() : argument);
  const { config, store } = commandConfig(io.env, values.store, 'session');
  return withStore(config, store, false, async (opened) => {
    const snapshot = await opened.snapshot(target.sessionId);
    if (snapshot === null) {
      io.err(`tessera session inspect: no session ${target.sessionId} in ${describeStore(store)}`);
      return EXIT.failed;
    }
    const report = inspectReport(snapshot, target, { now: Date.now(), horizonMs: config.horizonMs, idleTimeoutMs: config.idleTimeoutMs });
    io.out(JSON.stringify(report, null, 2));
    return EXIT.ok;
  });
}

async function user(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('user', args, { url: { type: 'string' } });
  const [sub, userId, ...rest] = positionals;
  if (sub !== 'devices' && sub !== 'logout') throw new UsageError(sub === undefined ? 'user needs a subcommand: devices or logout' : `unknown user subcommand "${sub}"`, 'user');
  if (userId === undefined || rest.length > 0) throw new UsageError(`user ${sub} takes one user id`, 'user');
  const env = typeof values.url === 'string' ? { ...io.env, TESSERA_URL: values.url } : io.env;
  return runAdmin([sub, userId], env, io.out);
}

function keys(args: readonly string[], io: CliIo): number {
  const { values, positionals } = parse('keys', args, { name: { type: 'string' }, scopes: { type: 'string' }, webhook: { type: 'boolean' } });
  if (positionals[0] !== 'generate' || positionals.length > 1) throw new UsageError('keys needs the subcommand generate', 'keys');
  if (values.webhook === true && (values.name !== undefined || values.scopes !== undefined)) throw new UsageError('--webhook takes no --name or --scopes', 'keys');
  io.out(generateKey({ name: values.name as string | undefined, scopes: values.scopes as string | undefined, webhook: values.webhook === true }));
  io.err(values.webhook === true ? 'add it to TESSERA_WEBHOOK_SECRET (comma-separated while rotating)' : 'add it to TESSERA_API_KEYS (comma-separated entries); give callers the part between the colons');
  return EXIT.ok;
}

async function transfer(command: 'export' | 'import', args: readonly string[], io: CliIo): Promise<number> {
  const options: Options = { store: { type: 'string' }, file: { type: 'string' }, batch: { type: 'string' } };
  if (command === 'import') options.limit = { type: 'string' };
  const { values, positionals } = parse(command, args, options);
  if (positionals.length > 0) throw new UsageError(`${command} takes no argument (got "${positionals[0]}"); name the file with --file`, command);
  if (typeof values.file !== 'string' || values.file === '') throw new UsageError(`${command} needs --file FILE`, command);
  const file = values.file;
  const batch = positiveInteger(values.batch, 'batch', command === 'export' ? 500 : 100, command)!;
  const limit = positiveInteger(values.limit, 'limit', undefined, command);
  const { config, store } = commandConfig(io.env, values.store, command);
  const progressStream = io.progress ?? process.stderr;
  return withStore(config, store, command === 'import', (opened) =>
    command === 'export'
      ? runExport({ store: opened, source: describeStore(store), file, batch, horizonMs: config.horizonMs, out: io.out, progressStream })
      : runImport({ store: opened, file, batch, horizonMs: config.horizonMs, out: io.out, progressStream, ...(limit !== undefined ? { limit } : {}) }),
  );
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<CliOutcome> {
  const [command, ...args] = argv;
  try {
    if (command === undefined) {
      io.err(HELP.tessera!);
      return EXIT.usage;
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      const topic = args[0];
      if (topic !== undefined && !Object.hasOwn(HELP, topic)) throw new UsageError(`no command "${topic}"`);
      io.out(helpOf(topic ?? 'tessera'));
      return EXIT.ok;
    }
    if (!Object.hasOwn(HELP, command) || command === 'tessera') throw new UsageError(`no command "${command}"`);
    if (args.includes('--help') || args.includes('-h')) {
      io.out(helpOf(command));
      return EXIT.ok;
    }
    switch (command) {
      case 'serve':
        if (args.length > 0) throw new UsageError('serve takes no argument: configure it with TESSERA_* variables', 'serve');
        runService(io.env);
        return 'serving';
      case 'status':
        return await status(args, io);
      case 'session':
        return await session(args, io);
      case 'user':
        return await user(args, io);
      case 'keys':
        return keys(args, io);
      case 'export':
      case 'import':
        return await transfer(command, args, io);
      default:
        throw new UsageError(`no command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`tessera: ${error.message}\n`);
      io.err(helpOf(error.command));
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err(`tessera: invalid configuration: ${error.message}`);
      return EXIT.usage;
    }
    io.err(`tessera ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failed;
  }
}
