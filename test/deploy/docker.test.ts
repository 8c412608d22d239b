/**
 * The Dockerfile and .dockerignore, checked by dockerfile-utils (the linter of
 * the Docker language server) and by replaying the build: no Docker engine runs
 * here, so the test does each stage's steps itself in a folder per stage, then
 * starts the runtime stage's CMD from what the runtime stage copied, as the
 * container would.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validate } from 'dockerfile-utils';
import { dockerignore, execForm, flag, globalArgs, plainArguments, readDockerfile, stages, type Stage } from '../support/dockerfile.js';
import { REPO_ROOT, freePort } from '../support/process.js';

const text = readDockerfile();
const all = stages(text);
const build = all[0]!;
const runtime = all.at(-1)!;
const admitted = dockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));

/** The scripts npm runs in the package's own folder on `npm ci` (docs.npmjs.com, "scripts"). */
const installScripts = ['preinstall', 'install', 'postinstall', 'prepare'];

const only = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
const last = (stage: Stage, keyword: string) => only(stage, keyword).at(-1);

describe('the Dockerfile', () => {
  test('has nothing dockerfile-utils reports', () => {
    assert.deepEqual(
      validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`),
      [],
    );
  });

  test('builds in two stages: a full image that compiles, a slim one that runs', () => {
    assert.ok(all.length >= 2, `${all.length} stage(s)`);
    assert.match(runtime.image, /^node:[\d.]+-[a-z]+-slim$/);
    assert.match(build.image, /^node:[\d.]+-[a-z]+$/, 'the build stage needs python3, make and g++ for better-sqlite3');
    for (const copy of only(runtime, 'COPY')) {
      assert.ok(flag(copy, 'from') !== null, `the runtime stage copies only from earlier stages: ${copy.getRawArgumentsContent()}`);
    }
  });

  test('runs on a Node the whole suite runs on (.ci/run)', () => {
    const version = globalArgs(text).get('NODE_VERSION');
    const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    // `run_on <version> ''` runs everything; `run_on <version> test/sim` leaves the simulations out.
    const whole = [...ci.matchAll(/^run_on (\S+) ''$/gm)].map((m) => m[1]!);
    assert.ok(whole.length > 0, '.ci/run names the Nodes it runs the suite on');
    assert.ok(version !== undefined && whole.includes(version), `NODE_VERSION ${version} is not among .ci/run's ${whole.join(', ')}`);
  });

  test('runs the service as a numeric non-root user', () => {
    const user = last(runtime, 'USER')?.getArgumentsContent() ?? 'root';
    const [uid] = user.split(':');
    assert.match(uid!, /^\d+$/, 'a numeric user lets Kubernetes runAsNonRoot verify it');
    assert.notEqual(Number(uid), 0);
  });

  test('leaves the dev dependencies behind: the build stage prunes them, the runtime stage installs nothing', () => {
    const runs = only(build, 'RUN').map((i) => i.getArgumentsContent() ?? '');
    assert.ok(runs.some((run) => /npm (prune|ci) [^&]*--omit=dev/.test(run)), runs.join('\n'));
    for (const run of only(runtime, 'RUN')) assert.doesNotMatch(run.getArgumentsContent() ?? '', /\b(npm|apt-get|apk|curl|wget)\b/);
  });

  test("runs install scripts whose programs a production install has (npm ci --omit=dev)", () => {
    // An install without the dev dependencies still runs package.json's install scripts; a
    // program among the dev dependencies is then missing, and `npm ci --omit=dev` fails.
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    const programs = installScripts
      .map((name) => manifest.scripts[name])
      .filter((script): script is string => script !== undefined)
      .flatMap((script) => script.split(/&&|\|\||;/).map((command) => command.trim().split(/\s+/)[0]!));
    assert.ok(programs.includes('patch-package'), `install scripts: ${programs.join(', ')}`);
    for (const program of programs) {
      assert.ok(program in manifest.dependencies, `${program} runs at install but is not a production dependency`);
    }
  });

  test('checks its health on /healthz and starts the service', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK');
    assert.ok(healthcheck !== undefined);
    assert.deepEqual(execForm(healthcheck), ['node', 'dist/src/healthcheck.js']);
    assert.match(readFileSync(join(REPO_ROOT, 'src/healthcheck.ts'), 'utf8'), /\/healthz`/);
    assert.deepEqual(execForm(last(runtime, 'CMD')!), ['node', 'dist/src/main.js']);
    assert.equal(last(runtime, 'STOPSIGNAL')?.getArgumentsContent(), 'SIGTERM');
  });
});

describe('.dockerignore', () => {
  test('admits every file the build stage copies from the context', () => {
    for (const copy of only(build, 'COPY').filter((c) => flag(c, 'from') === null)) {
      for (const source of plainArguments(copy).slice(0, -1)) assert.ok(admitted(source), `${source} is ignored`);
    }
  });

  test('keeps local installs, builds, data, secrets and history out of the context', () => {
    for (const path of ['node_modules', 'node_modules/fastify/package.json', 'dist/src/main.js', 'data/tessera.db', '.env', '.git/config', 'test/http/cart.test.ts', 'client/test/client.test.ts', 'client/package.json']) {
      assert.equal(admitted(path), false, path);
    }
  });
});

describe('the image, assembled by replaying the Dockerfile', { timeout: 600_000 }, () => {
  let work: string;
  let runtimeRoot: string;
  let workdir: string;
  let env: Record<string, string>;

  /** The folder standing for `path` in a stage's file system. */
  const inStage = (stage: string, path: string) => join(work, stage, path);

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tessera-image-'));
    for (const stage of all) {
      let dir = '/';
      const stageEnv: Record<string, string> = {};
      for (const instruction of stage.instructions) {
        const keyword = instruction.getKeyword();
        if (keyword === 'WORKDIR') {
          dir = posix.resolve(dir, instruction.getArgumentsContent() ?? '/');
          mkdirSync(inStage(stage.name, dir), { recursive: true });
        } else if (keyword === 'ENV') {
          for (const property of (instruction as unknown as { getProperties(): Array<{ getName(): string; getValue(): string | null }> }).getProperties()) {
            stageEnv[property.getName()] = property.getValue() ?? '';
          }
        } else if (keyword === 'COPY') {
          const from = flag(instruction, 'from');
          const args = plainArguments(instruction);
          const target = posix.resolve(dir, args.at(-1)!);
          for (const source of args.slice(0, -1)) {
            const origin = from === null ? join(REPO_ROOT, source) : inStage(from, posix.resolve(dir, source));
            if (from === null) assert.ok(admitted(source), `${source} is not in the build context`);
            const into = args.at(-1)!.endsWith('/') ? posix.join(target, posix.basename(source)) : target;
            cpSync(origin, inStage(stage.name, into), { recursive: true, filter: (p) => from !== null || !p.includes('/node_modules') });
          }
        } else if (keyword === 'RUN' && stage !== runtime) {
          const command = instruction.getArgumentsContent() ?? '';
          const result = spawnSync('sh', ['-c', command], {
            cwd: inStage(stage.name, dir),
            env: { ...process.env, ...stageEnv },
            encoding: 'utf8',
          });
          assert.equal(result.status, 0, `RUN ${command} failed:\n${result.stdout}\n${result.stderr}`);
        }
      }
      if (stage === runtime) {
        workdir = inStage(stage.name, dir);
        env = stageEnv;
      }
    }
    runtimeRoot = join(work, runtime.name);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  test('holds every production package of the lockfile and no dev-only one', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const production = entries.filter(([, entry]) => entry.dev !== true && entry.optional !== true);
    const devOnly = entries.filter(([, entry]) => entry.dev === true);
    assert.ok(production.length > 0 && devOnly.length > 0);
    for (const [path] of production) assert.ok(existsSync(join(workdir, path)), `${path} is missing`);
    for (const [path] of devOnly) assert.ok(!existsSync(join(workdir, path)), `${path} (dev only) is in the image`);
    assert.ok(!existsSync(join(workdir, 'src')), 'TypeScript sources are not shipped');
    assert.ok(existsSync(join(runtimeRoot, 'app/dist/src/main.js')));
    assert.ok(existsSync(join(runtimeRoot, 'app/dist/src/cli/main.js')), 'the tessera command');
    assert.ok(existsSync(join(runtimeRoot, 'app/dist/client/src/cli.js')), 'the admin client the tessera command reuses');
  });

  test("holds the fixes of patches/ in the packages they mend (docs/decisions.md, D95)", () => {
    const patches = readdirSync(join(REPO_ROOT, 'patches')).filter((name) => name.endsWith('.patch'));
    assert.ok(patches.length > 0);
    for (const name of patches) {
      const diff = readFileSync(join(REPO_ROOT, 'patches', name), 'utf8');
      for (const file of diff.split(/^diff --git /m).slice(1)) {
        const target = /^\+\+\+ b\/(\S+)$/m.exec(file)?.[1];
        assert.ok(target !== undefined, `${name} names no file`);
        const added = file.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++')).map((line) => line.slice(1));
        const removed = file.split('\n').filter((line) => line.startsWith('-') && !line.startsWith('---')).map((line) => line.slice(1));
        assert.ok(added.length > 0, `${name}: no line added to ${target}`);
        const shipped = readFileSync(join(workdir, target), 'utf8').split('\n');
        for (const line of added) assert.ok(shipped.includes(line), `${target} in the image lacks ${JSON.stringify(line.trim())} (${name})`);
        for (const line of removed) assert.ok(!shipped.includes(line), `${target} in the image still has ${JSON.stringify(line.trim())} (${name})`);
      }
    }
  });

  test('starts, answers /healthz and the API, passes its HEALTHCHECK, and stops on SIGTERM', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'tessera-image-data-'));
    const key = 'image-test-key-0123456789';
    const childEnv = {
      PATH: process.env.PATH ?? '',
      ...env,
      // The image listens on every interface; here, loopback only.
      TESSERA_HOST: '127.0.0.1',
      TESSERA_PORT: String(port),
      TESSERA_SQLITE_PATH: join(data, posix.basename(env.TESSERA_SQLITE_PATH ?? 'tessera.db')),
      TESSERA_API_KEYS: `storefront:${key}`,
      TESSERA_SHUTDOWN_DELAY: '0s',
      TESSERA_LOG_LEVEL: 'warn',
    };
    const [program, ...args] = execForm(last(runtime, 'CMD')!);
    assert.equal(program, 'node');
    const child = spawn(process.execPath, args, { cwd: workdir, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const healthcheck = () => {
      const [, ...checkArgs] = execForm(last(runtime, 'HEALTHCHECK')!);
      return spawnSync(process.execPath, checkArgs, { cwd: workdir, env: childEnv }).status;
    };
    try {
      const url = `http://127.0.0.1:${port}`;
      for (let attempt = 0; ; attempt++) {
        assert.equal(child.exitCode, null, `the service exited: ${stderr}`);
        const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
        if (ok) break;
        assert.ok(attempt < 300, `no /healthz answer within 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(healthcheck(), 0);

      const created = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'image-user', device: { name: 'replayed image' } }),
      });
      assert.equal(created.status, 201);
      const { token } = (await created.json()) as { token: string };
      const read = await fetch(`${url}/v1/session`, { headers: { authorization: `Bearer ${key}`, 'tessera-token': token } });
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as { session: { userId: string } }).session.userId, 'image-user');
      assert.ok(existsSync(childEnv.TESSERA_SQLITE_PATH), 'the session is in the configured database file');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.equal(healthcheck(), 1, 'the health check fails once the service is gone');
    } finally {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  });
});
