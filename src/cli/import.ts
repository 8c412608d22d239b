/**
 * `tessera import`: joins every session of an export file into a store, as
 * replication's repair does — each snapshot as change records, through
 * `SessionStore.merge` — so importing a session twice changes nothing, and
 * importing into a store that holds the session already joins the two.
 *
 * The store itself keeps how far the import of a file went (the mark
 * `import:<export id>`, the number of session lines merged), written after
 * each step: run again, the import goes on from there, and if the mark lags
 * the last step's merge, merging those sessions again is harmless.
 */
import type { SessionStore } from '../store/session-store.js';
import { snapshotRecords } from '../store/transition.js';
import { DumpFileError, expectedOf, readDump, type DumpHeader, type Expected, type SessionLine } from './dump-file.js';
import { startProgress } from './progress.js';
import { compareWithStore, report } from './verify.js';

export interface ImportOptions {
  readonly store: SessionStore;
  readonly file: string;
  readonly batch: number;
  /** Stop after this many sessions in this run. */
  readonly limit?: number;
  readonly horizonMs: number;
  readonly out: (line: string) => void;
  readonly progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The origin of imported records (nothing is appended to a feed: the store is opened without consumers). */
const IMPORT_ORIGIN = 'import';

export const markOf = (header: DumpHeader): string => `import:${header.id}`;

/** Reads the whole file once: header, session count and the last digest of each session; refuses an unfinished export. */
async function survey(file: string, horizonMs: number): Promise<{ header: DumpHeader; lines: number; expected: Map<string, Expected> }> {
  let header: DumpHeader | undefined;
  let lines = 0;
  let ended = false;
  let last = 0;
  const expected = new Map<string, Expected>();
  for await (const item of readDump(file)) {
    if ('header' in item) {
      header = item.header;
      continue;
    }
    last = item.number;
    ended = item.line.kind === 'end';
    if (item.line.kind === 'session') {
      lines += 1;
      expected.set(item.line.value.id, expectedOf(item.line.value, horizonMs));
    }
  }
  if (header === undefined) throw new DumpFileError(file, 1, 'is empty');
  if (!ended) throw new DumpFileError(file, last, 'the export did not finish (no end line): run tessera export again with this file to finish it');
  return { header, lines, expected };
}

export async function runImport(options: ImportOptions): Promise<number> {
  const { store, file, batch, limit, horizonMs, out } = options;
  const { header, lines, expected } = await survey(file, horizonMs);
  const mark = markOf(header);
  const already = Math.min(Number(await store.readMark(mark)) || 0, lines);
  if (already > 0) out(`continuing the import of ${file}: ${already} of ${lines} session lines were imported before`);
  const stopAt = limit === undefined ? lines : Math.min(lines, already + limit);
  const progress = startProgress('import', lines, already, options.progressStream);
  let index = 0;
  let step: SessionLine[] = [];
  const flush = async (): Promise<void> => {
    if (step.length === 0) return;
    const records = step.flatMap(({ session }) => snapshotRecords(session, { hlc: session.meta.t ?? '', origin: IMPORT_ORIGIN }));
    await store.merge(records, Date.now());
    await store.writeMark(mark, String(index));
    progress.tick(step.length);
    step = [];
  };
  for await (const item of readDump(file)) {
    if (!('line' in item) || item.line.kind !== 'session') continue;
    if (index >= stopAt) break;
    index += 1;
    if (index <= already) continue;
    step.push(item.line.value);
    if (step.length >= batch) await flush();
  }
  await flush();
  progress.stop();
  if (index < lines) {
    out(`imported ${index} of ${lines} session lines of ${file}; stopped at --limit: run tessera import again to continue`);
    return 0;
  }
  const comparison = await compareWithStore(store, expected, Date.now());
  return report('import', file, comparison, out);
}
