/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): where self time goes,
 * by function and by area (Tessera's own folders, each dependency, Node
 * internals, GC, idle). Used by `npm run bench -- --profile` and by hand:
 *   npx tsx bench/lib/cpu-profile.ts <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber?: number };
  readonly children?: readonly number[];
}

export interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of non-idle time, in percent, by area. */
  readonly areas: ReadonlyArray<{ readonly area: string; readonly percent: number }>;
  /** Top functions by self time, percent of non-idle time. */
  readonly functions: ReadonlyArray<{ readonly name: string; readonly where: string; readonly percent: number }>;
  /** Top functions of src/ by inclusive time (self + callees), percent of non-idle time. */
  readonly inclusive: ReadonlyArray<{ readonly name: string; readonly where: string; readonly percent: number }>;
  readonly idlePercent: number;
}

/** Now on the clock a `.cpuprofile`'s times use: V8's monotonic ticks, in µs, the clock `process.hrtime` reads. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * How many milliseconds of the profile in `file` come before `fromUs` (a
 * `monotonicUs()` taken in another process on the same machine): the `skipMs`
 * that leaves only what ran from that moment on.
 */
export function skipBefore(file: string, fromUs: number): number {
  const { startTime } = JSON.parse(readFileSync(file, 'utf8')) as Pick<Profile, 'startTime'>;
  return Math.max(0, Math.round((fromUs - startTime) / 1000));
}

/** The profile without its first `skipMs` milliseconds of samples. */
export function trimStart(profile: Profile, skipMs: number): Profile {
  let t = profile.startTime;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let start = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t - profile.startTime < skipMs * 1000) {
      start = t;
      continue;
    }
    samples.push(profile.samples[i]!);
    timeDeltas.push(profile.timeDeltas[i] ?? 0);
  }
  return { ...profile, samples, timeDeltas, startTime: start };
}

export function areaOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url === '') return 'native';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // The server may run from src/ (tsx) or from a build (bench/.build/src/): name it by its src/ folder.
  const src = /\/src\/(.*)$/.exec(url) ?? /\/(?:bench)\/(.*)$/.exec(url);
  if (src) {
    const parts = src[1]!.split('/');
    const root = url.includes('/src/') ? 'src' : 'bench';
    return `${root}/${parts.length > 1 ? parts[0] : parts[0]!.replace(/\.[jt]s$/, '')}`;
  }
  return url.split('/').slice(-2).join('/');
}

/** `skipMs`: ignore the first milliseconds of the profile (start-up, warm-up). */
export function summarizeProfile(file: string, top = 25, skipMs = 0): ProfileSummary {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const profile = skipMs > 0 ? trimStart(raw, skipMs) : raw;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { where: string; us: number }>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    if (area === 'idle') {
      idle += us;
      continue;
    }
    busy += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    const entry = functions.get(key) ?? { where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const pct = (us: number): number => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  // Inclusive time of src/ functions: walk each sample's stack once, counting a function once per sample.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      if (functionName === '(idle)') break;
      if (!/\/src\//.test(url) || url.includes('/node_modules/')) continue;
      const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/src\//, 'src/')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  }
  return {
    totalMs: Math.round((profile.endTime - profile.startTime) / 1000),
    idlePercent: Math.round((idle / Math.max(1, idle + busy)) * 1000) / 10,
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, percent: pct(us) })),
    functions: [...functions]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([key, v]) => ({ name: key.split(' ')[0]!, where: v.where, percent: pct(v.us) })),
    inclusive: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ name: key.split(' ')[0]!, where: key.split(' ')[1]!, percent: pct(us) })),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  for (const file of process.argv.slice(2)) {
    const s = summarizeProfile(file, 30);
    console.log(`${file}: ${s.totalMs} ms, idle ${s.idlePercent} %`);
    console.log('\nby area (% of busy time):');
    for (const a of s.areas.slice(0, 25)) console.log(`  ${a.percent.toFixed(1).padStart(5)}  ${a.area}`);
    console.log('\ntop functions by self time:');
    for (const f of s.functions) console.log(`  ${f.percent.toFixed(1).padStart(5)}  ${f.name}  ${f.where}`);
    console.log('\nsrc/ functions by inclusive time:');
    for (const f of s.inclusive) console.log(`  ${f.percent.toFixed(1).padStart(5)}  ${f.name}  ${f.where}`);
  }
}
