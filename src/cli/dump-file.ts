/**
 * The export file: NDJSON, one JSON value a line, appended to and never
 * rewritten but for cutting off what follows the last checkpoint.
 *
 *   {"tessera":"sessions","version":1,"id":…,"source":…,"createdAt":…}   header, first line
 *   {"id":…,"digest":…,"session":{meta,devices,cart,prefs,history,versions}}   one per session
 *   {"checkpoint":{"next":"<scan cursor>"|null}}   after each page: where the scan goes on
 *   {"end":{"sessions":N}}   the scan finished; N distinct sessions in the file
 *
 * A session may appear more than once (an export run again catches up with
 * later changes): its last line is its state. Every state only grows, so
 * importing the older line as well changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { forgetAt } from '../domain/session.js';
import { sessionDigest } from '../domain/versions.js';
import type { SessionSnapshot } from '../store/session-store.js';

export const FORMAT = 'sessions';
export const VERSION = 1;

export interface DumpHeader {
  readonly tessera: typeof FORMAT;
  readonly version: typeof VERSION;
  /** Names this export: an import keeps its progress under it. */
  readonly id: string;
  /** The store exported, as `describeStore` gives it. */
  readonly source: string;
  readonly createdAt: string;
}

export interface SessionLine {
  readonly id: string;
  readonly digest: string;
  readonly session: SessionSnapshot;
}

export type DumpLine =
  | { readonly kind: 'session'; readonly value: SessionLine }
  | { readonly kind: 'checkpoint'; readonly next: string | null }
  | { readonly kind: 'end'; readonly sessions: number };

/** A file that is not an export, or is damaged: the import or export stops (exit 1). */
export class DumpFileError extends Error {
  constructor(path: string, line: number, problem: string) {
    super(`${path}, line ${line}: ${problem}`);
    this.name = 'DumpFileError';
  }
}

export function newHeader(source: string): DumpHeader {
  return { tessera: FORMAT, version: VERSION, id: randomBytes(9).toString('base64url'), source, createdAt: new Date().toISOString() };
}

export function sessionLine(session: SessionSnapshot): string {
  const line: SessionLine = { id: session.meta.id, digest: sessionDigest(session.meta, session.versions), session };
  return `${JSON.stringify(line)}\n`;
}

export const checkpointLine = (next: string | null): string => `${JSON.stringify({ checkpoint: { next } })}\n`;
export const endLine = (sessions: number): string => `${JSON.stringify({ end: { sessions } })}\n`;

/** What a session line promises, for comparing with a store. */
export interface Expected {
  readonly digest: string;
  readonly forgetAt: number;
}

export function expectedOf(line: SessionLine, horizonMs: number): Expected {
  return { digest: line.digest, forgetAt: forgetAt(line.session.meta, horizonMs) };
}

function parseLine(text: string, path: string, number: number): DumpLine {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new DumpFileError(path, number, 'is not JSON (a damaged export file? export again into a new file)');
  }
  if (typeof value.id === 'string' && typeof value.digest === 'string' && typeof value.session === 'object' && value.session !== null) {
    const line = value as unknown as SessionLine;
    // The digest is recomputed: a line edited or damaged since it was written is caught here, not in the store.
    if (line.session.meta?.id !== line.id || sessionDigest(line.session.meta, line.session.versions) !== line.digest) {
      throw new DumpFileError(path, number, `session ${line.id} does not match its digest (the file was changed or damaged)`);
    }
    return { kind: 'session', value: line };
  }
  const checkpoint = value.checkpoint as { next?: unknown } | undefined;
  if (checkpoint !== undefined && (typeof checkpoint.next === 'string' || checkpoint.next === null)) return { kind: 'checkpoint', next: checkpoint.next };
  const end = value.end as { sessions?: unknown } | undefined;
  if (end !== undefined && typeof end.sessions === 'number') return { kind: 'end', sessions: end.sessions };
  throw new DumpFileError(path, number, 'is neither a session, a checkpoint nor an end line');
}

/**
 * Reads an export file: its header, then every line with the byte offset
 * just past it. A last line without its newline (cut off mid-write) is not
 * returned (an export goes on from its last checkpoint anyway).
 */
export async function* readDump(path: string): AsyncGenerator<{ header: DumpHeader } | { line: DumpLine; end: number; number: number }> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let offset = 0;
  let number = 0;
  let pending: { text: string; end: number; number: number } | null = null;
  for await (const text of lines) {
    // A line is complete once the next one begins: readline also yields a last line with no newline.
    if (pending !== null) yield* emit(pending);
    number += 1;
    offset += Buffer.byteLength(text, 'utf8') + 1;
    pending = { text, end: offset, number };
  }
  if (pending !== null && (await endsWithNewline(path))) yield* emit(pending);

  function* emit(line: { text: string; end: number; number: number }): Generator<{ header: DumpHeader } | { line: DumpLine; end: number; number: number }> {
    if (line.number === 1) {
      yield { header: parseHeader(line.text, path) };
      return;
    }
    if (line.text.trim() === '') return;
    yield { line: parseLine(line.text, path, line.number), end: line.end, number: line.number };
  }
}

async function endsWithNewline(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size === 0) return false;
    const buffer = Buffer.alloc(1);
    await file.read(buffer, 0, 1, size - 1);
    return buffer[0] === 0x0a;
  } finally {
    await file.close();
  }
}

function parseHeader(text: string, path: string): DumpHeader {
  let value: Partial<DumpHeader>;
  try {
    value = JSON.parse(text) as Partial<DumpHeader>;
  } catch {
    throw new DumpFileError(path, 1, 'is not a tessera export file (its first line is not JSON)');
  }
  if (value.tessera !== FORMAT || typeof value.id !== 'string' || typeof value.source !== 'string') {
    throw new DumpFileError(path, 1, 'is not a tessera export file (no export header)');
  }
  if (value.version !== VERSION) throw new DumpFileError(path, 1, `is an export of format version ${String(value.version)}; this tessera reads version ${VERSION}`);
  return value as DumpHeader;
}

/** Writes `text` and resolves once the stream has taken it (so a checkpoint follows its page). */
export function write(stream: WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}
