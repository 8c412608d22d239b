/**
 * Two nodes on one store, one of them with a wall clock minutes behind: the
 * lagging node's writes still come after what was written before them
 * (last-writer-wins by stamp), because stores lift a change's stamp above the
 * session's largest and every node observes the stamps it sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTessera, type TestServer } from '../support/tessera-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-clock-'));
let fast: TestServer;
let slow: TestServer;
before(async () => {
  fast = await startTessera({}, { dir });
  slow = await startTessera({}, { dir, now: () => Date.now() - 7 * 60_000 });
});
after(async () => {
  await Promise.all([fast.close(), slow.close()]);
  rmSync(dir, { recursive: true, force: true });
});

test('a node whose clock runs seven minutes behind still wins with the later write', async () => {
  const { token } = await fast.signIn({ userId: `clock-${Math.random()}` });
  const patch = (server: TestServer, theme: string) =>
    server.request('PATCH', '/v1/session/prefs', { token, body: { theme }, headers: { 'content-type': 'application/merge-patch+json' } });
  assert.equal((await patch(fast, 'set-by-the-fast-node')).status, 200);
  assert.equal((await patch(slow, 'set-later-by-the-slow-node')).status, 200);
  for (const server of [fast, slow]) {
    const read = await server.request('GET', '/v1/session/prefs', { token });
    assert.equal(read.body.prefs.theme, 'set-later-by-the-slow-node');
  }
  // Back on the fast node, a later write wins again: stamps only move forward.
  assert.equal((await patch(fast, 'and-again-on-the-fast-node')).status, 200);
  assert.equal((await slow.request('GET', '/v1/session/prefs', { token })).body.prefs.theme, 'and-again-on-the-fast-node');
});
