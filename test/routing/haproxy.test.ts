/**
 * deploy/haproxy.cfg in front of three real Tessera nodes on one store: one
 * session's requests reach one node, and removing a node moves only its sessions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/process.js';
import { APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sticky routing through HAProxy (deploy/haproxy.cfg)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-haproxy-'));
  const nodes: TestServer[] = [];
  let haproxy: ChildProcess;
  let entry = '';

  before(async () => {
    for (const id of ['node1', 'node2', 'node3']) {
      nodes.push(await startTessera({ TESSERA_NODE_ID: id, TESSERA_SQLITE_PATH: join(dir, 'shared.db') }, { dir }));
    }
    const port = await freePort();
    const config = readFileSync(new URL('../../deploy/haproxy.cfg', import.meta.url), 'utf8')
      .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`)
      // Checks every 100 ms, and a node is down at its first failed check: a stopped node is seen at once.
      // But a check may take up to 2 s (it would time out after `inter`): the three nodes share this
      // process, and one pause of its event loop on a loaded machine failed all three checks at once,
      // leaving no node to answer a sign-in (HAProxy's 503 page).
      .replace('inter 1s fall 2 rise 2', 'inter 100ms fall 1 rise 1')
      .replace('option httpchk GET /readyz', 'option httpchk GET /readyz\n    timeout check 2s')
      .replace(/server (node\d) 127\.0\.0\.1:\d+/g, (_m, name: string) => `server ${name} ${new URL(nodes[Number(name.slice(4)) - 1]!.url).host}`);
    writeFileSync(join(dir, 'haproxy.cfg'), config);
    haproxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    entry = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${entry}/healthz`)).ok, 10_000);
  });

  after(async () => {
    haproxy?.kill('SIGKILL');
    for (const node of nodes) await node.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (path: string, init: { method?: string; token?: string; body?: unknown } = {}) => {
    const response = await fetch(`${entry}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${APP_KEY}`,
        ...(init.token ? { 'tessera-token': init.token } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    await response.arrayBuffer();
    return { status: response.status, node: response.headers.get('tessera-node') };
  };

  const tokens: string[] = [];
  const placement = new Map<string, string>();

  test("every request of one session reaches the same node, and sessions spread over all nodes", async () => {
    for (let i = 0; i < 60; i++) {
      const response = await fetch(`${entry}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `routing-${i}` }),
      });
      tokens.push(((await response.json()) as { token: string }).token);
    }
    for (const token of tokens) {
      const seen = new Set<string | null>();
      for (let i = 0; i < 4; i++) seen.add((await call('/v1/session/cart', { token })).node);
      seen.add((await call('/v1/session/cart/items', { method: 'POST', token, body: { sku: 'S' } })).node);
      assert.equal(seen.size, 1, `one session went to ${[...seen].join(', ')}`);
      placement.set(token, [...seen][0]!);
    }
    const perNode = new Map<string, number>();
    for (const node of placement.values()) perNode.set(node, (perNode.get(node) ?? 0) + 1);
    assert.deepEqual([...perNode.keys()].sort(), ['node1', 'node2', 'node3']);
  });

  test('removing a node moves only the sessions that were on it', async () => {
    await nodes[2]!.close();
    const orphans = tokens.filter((token) => placement.get(token) === 'node3');
    await until(async () => {
      const replies = await Promise.all(orphans.map((token) => call('/v1/session', { token })));
      return replies.every((r) => r.status === 200);
    }, 10_000);
    let moved = 0;
    for (const token of tokens) {
      const { status, node } = await call('/v1/session', { token });
      assert.equal(status, 200);
      const before = placement.get(token);
      if (before === 'node3') {
        assert.notEqual(node, 'node3');
        moved += 1;
      } else {
        assert.equal(node, before, 'a session of a node that stayed moved');
      }
    }
    assert.ok(moved > 0);
  });
});
