/** The embedded engine (the reference implementation of the rules) against the conformance suite. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { conformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

conformance('sqlite', async (settings, place) => new SqliteStore({ ...settings, path: place === undefined ? ':memory:' : join(dir, `${place}.db`) }));
