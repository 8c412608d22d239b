/** The embedded engine (the reference implementation of the rules) against the conformance suite. */
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { conformance } from './conformance.js';

conformance('sqlite', async (settings) => new SqliteStore({ ...settings, path: ':memory:' }));
