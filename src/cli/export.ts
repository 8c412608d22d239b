/**
 * `tessera export`: every session of a store into an export file
 * (`dump-file.ts`), a scan page at a time, each page followed by a
 * checkpoint naming where the scan goes on. Run again after an interruption,
 * it cuts off whatever follows the last checkpoint (a page half written) and
 * goes on from there; sessions already in the file are not written again.
 * Then it checks the file against a new scan: sessions that changed or
 * appeared meanwhile are exported once more and checked again.
 */
import { createWriteStream, existsSync, openSync, truncateSync } from 'node:fs';
import type { SessionStore } from '../store/session-store.js';
import { checkpointLine, endLine, expectedOf, newHeader, readDump, sessionLine, write, type DumpHeader, type Expected } from './dump-file.js';
import { startProgress } from './progress.js';
import { compareWithStore, report } from './verify.js';

export interface ExportOptions {
  readonly store: SessionStore;
  /** `describeStore` of the store: recorded in the header, checked when continuing. */
  readonly source: string;
  readonly file: string;
  readonly batch: number;
  readonly horizonMs: number;
  readonly out: (line: string) => void;
  readonly progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What the file already holds, when continuing. */
interface Existing {
  readonly header: DumpHeader;
  /** Sessions up to the last checkpoint. */
  readonly sessions: Set<string>;
  /** Where to cut the file: past the last checkpoint (or the header). */
  readonly cutAt: number;
  /** The scan's cursor to go on with; null when the scan had finished. */
  readonly next: string | null;
  readonly ended: boolean;
}

async function readExisting(file: string): Promise<Existing> {
  let header: DumpHeader | undefined;
  const sessions = new Set<string>();
  // Sessions after the last checkpoint are cut off with it, so they are collected apart until one comes.
  let pending: string[] = [];
  let cutAt = 0;
  let next: string | null = '';
  let ended = false;
  for await (const item of readDump(file)) {
    if ('header' in item) {
      header = item.header;
      cutAt = Buffer.byteLength(`${JSON.stringify(header)}\n`, 'utf8');
      continue;
    }
    const { line, end } = item;
    if (line.kind === 'session') {
      pending.push(line.value.id);
      continue;
    }
    for (const id of pending) sessions.add(id);
    pending = [];
    cutAt = end;
    if (line.kind === 'checkpoint') {
      next = line.next;
      ended = false;
    } else {
      next = null;
      ended = true;
    }
  }
  if (header === undefined) throw new Error(`${file} is empty; remove it or name another file`);
  return { header, sessions, cutAt, next, ended };
}

export async function runExport(options: ExportOptions): Promise<number> {
  const { store, source, file, batch, horizonMs, out } = options;
  let existing: Existing | null = null;
  if (existsSync(file)) {
    existing = await readExisting(file);
    if (existing.header.source !== source) {
      out(`tessera export: ${file} is an export of ${existing.header.source}, not of ${source}; name another --file`);
      return 1;
    }
    truncateSync(file, existing.cutAt);
  }
  const sessions = existing?.sessions ?? new Set<string>();
  // The file holds CSRF secrets and token hashes: readable by its owner only. Opened here, so
  // that a file that cannot be written is refused before any work, as an error of this call.
  const stream = createWriteStream(file, { fd: openSync(file, 'a', 0o600) });
  // A failed write (a full disk) rejects its `write`; the stream's own 'error' event, unheard, would end the process.
  stream.on('error', () => undefined);
  try {
    if (existing === null) await write(stream, `${JSON.stringify(newHeader(source))}\n`);
    else out(`continuing ${file}: ${sessions.size} sessions already exported${existing.ended ? ' (finished; catching up with changes since)' : ''}`);

    let cursor = existing === null ? '' : existing.next;
    if (cursor !== null) {
      const progress = startProgress('export', null, sessions.size, options.progressStream);
      while (cursor !== null) {
        const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, batch);
        let text = '';
        for (const { id } of page.sessions) {
          if (sessions.has(id)) continue;
          const snapshot = await store.snapshot(id);
          // Gone since the scan saw it (swept): nothing to export.
          if (snapshot === null) continue;
          text += sessionLine(snapshot);
          sessions.add(id);
          progress.tick();
        }
        await write(stream, text + checkpointLine(page.next));
        cursor = page.next;
      }
      progress.stop();
    }
    if (existing === null || !existing.ended) await write(stream, endLine(sessions.size));
    // Checked against the file as it reads back from disk, each line's digest recomputed.
    let comparison = await compareWithStore(store, await expectedFromFile(file, horizonMs), Date.now());
    const changed = [...comparison.differing, ...comparison.extra];
    if (changed.length > 0) {
      // Written to while the scan ran: export those once more (their later line wins).
      let text = '';
      for (const id of changed) {
        const snapshot = await store.snapshot(id);
        if (snapshot === null) continue;
        text += sessionLine(snapshot);
      }
      await write(stream, text + endLine(new Set([...sessions, ...changed]).size));
      comparison = await compareWithStore(store, await expectedFromFile(file, horizonMs), Date.now());
      out(`${changed.length} session(s) changed during the export; exported again`);
    }
    return report('export', file, comparison, out);
  } finally {
    await new Promise<void>((resolve) => stream.end(resolve));
  }
}

/** What the file promises of each session: its last line's digest. */
async function expectedFromFile(file: string, horizonMs: number): Promise<Map<string, Expected>> {
  const expected = new Map<string, Expected>();
  for await (const item of readDump(file)) {
    if ('line' in item && item.line.kind === 'session') expected.set(item.line.value.id, expectedOf(item.line.value, horizonMs));
  }
  return expected;
}
