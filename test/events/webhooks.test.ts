/**
 * Session events as signed webhooks, end to end: Tessera in-process on its
 * embedded store, a real HTTP receiver started here. Every kind of event
 * arrives, signed (checked with the SDK's verifyWebhook); events survive an
 * outage of the receiver (retried until it is back) and a restart of the
 * service (persisted with their changes, delivered after the restart); and a
 * receiver that hangs never holds up a request.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyWebhook, type SessionEvent } from '../../client/src/index.js';
import { ADMIN_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

const SECRET = `whsec_${Buffer.alloc(32, 11).toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.alloc(32, 12).toString('base64')}`;

/** A webhook endpoint: records what it is sent; can be stopped, started again on its port, or made to hang. */
class Receiver {
  readonly deliveries: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  readonly held: ServerResponse[] = [];
  hang = false;
  port = 0;
  #server: Server | null = null;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/tessera`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (this.hang) {
          this.held.push(res);
          return;
        }
        this.deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => server.listen(this.port, '127.0.0.1', done));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }

  /** Every delivery so far, verified as the SDK verifies one. */
  events(): SessionEvent[] {
    return this.deliveries.map((d) => verifyWebhook([OLD_SECRET, SECRET], d.headers, d.body));
  }

  /** Waits (polling, at most 20 s) until the events received satisfy `done`. */
  async until(done: (events: SessionEvent[]) => boolean, what: string): Promise<SessionEvent[]> {
    for (let i = 0; i < 400; i += 1) {
      const events = this.events();
      if (done(events)) return events;
      await sleep(50);
    }
    assert.fail(`timed out waiting for ${what}; received ${JSON.stringify(this.events().map((e) => [e.type, e.data]))}`);
  }
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function webhookEnv(receiver: Receiver, extra: Record<string, string> = {}): Record<string, string> {
  return { TESSERA_WEBHOOK_URLS: receiver.url, TESSERA_WEBHOOK_SECRET: SECRET, TESSERA_WEBHOOK_BACKOFF: '50ms', ...extra };
}

async function metric(server: TestServer, name: string): Promise<number> {
  const text = (await server.request('GET', '/metrics', { admin: true, key: null })).text;
  return Number(new RegExp(`^${name}\\{endpoint="0"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

const ofUser = (userId: string) => (events: SessionEvent[]) => events.filter((e) => e.data.userId === userId);

describe('session events as webhooks', { timeout: 120_000 }, () => {
  test('every kind of event arrives once per change, signed (Standard Webhooks), with a stable id', async () => {
    const receiver = new Receiver();
    await receiver.start();
    let wall = Date.now();
    const server = await startTessera(webhookEnv(receiver, { TESSERA_ROTATION_GRACE: '1s' }), { now: () => wall });
    try {
      const userId = `ada-${Math.random().toString(36).slice(2)}`;
      const guest = await server.signIn();
      await server.request('POST', '/v1/session/cart/items', { token: guest.token, body: { sku: 'MUG' } });
      const laptop = await server.signIn({ userId, guestToken: guest.token, device: { name: 'laptop', kind: 'desktop', country: 'DE' }, authLevel: 'pwd' });
      const phone = await server.signIn({ userId, device: { name: 'phone' }, persistent: false });
      const rotated = (await server.request('POST', '/v1/session/rotate', { token: laptop.token })).body;
      const stepped = (await server.request('POST', '/v1/session/reauthenticate', { token: rotated.token, body: { authLevel: 'otp' } })).body;
      wall += 2_000;
      assert.equal((await server.request('GET', '/v1/session', { token: laptop.token })).status, 401, 'a generation-0 token after two rotations: theft');
      const tablet = await server.signIn({ userId, device: { name: 'tablet' } });
      assert.equal((await server.request('DELETE', `/v1/session/devices/${tablet.session.deviceId}`, { token: phone.token })).status, 204);
      const tv = await server.signIn({ userId, device: { name: 'tv' } });
      assert.equal((await server.request('DELETE', '/v1/session', { token: tv.token })).status, 204);
      assert.equal((await server.request('DELETE', '/v1/session/devices', { token: phone.token })).status, 204);
      assert.equal(stepped.session.authLevel, 'otp');

      const events = ofUser(userId)(await receiver.until((all) => ofUser(userId)(all).some((e) => e.type === 'session.ended'), 'the session’s end'));
      const sessionId = laptop.session.id;
      const summary = events.map((e) => [e.type, e.data.deviceId, e.data.reason].filter(Boolean).join(' ')).sort();
      assert.deepEqual(summary, [
        `session.device_revoked ${tablet.session.deviceId} revoked`,
        `session.ended ended`,
        `session.guest_merged`,
        `session.logged_out ${tv.session.deviceId}`,
        `session.rotated ${laptop.session.deviceId}`,
        `session.rotated ${laptop.session.deviceId}`,
        `session.signed_in ${laptop.session.deviceId}`,
        `session.signed_in ${phone.session.deviceId}`,
        `session.signed_in ${tablet.session.deviceId}`,
        `session.signed_in ${tv.session.deviceId}`,
        `session.token_reused ${laptop.session.deviceId}`,
      ].sort());
      for (const event of events) assert.equal(event.data.sessionId, sessionId);
      const byType = (type: string) => events.filter((e) => e.type === type);
      assert.deepEqual(byType('session.guest_merged')[0]!.data.guestSessionId, guest.session.id);
      const first = byType('session.signed_in').find((e) => e.data.deviceId === laptop.session.deviceId)!;
      assert.deepEqual([first.data.device, first.data.authLevel, first.data.persistent, first.data.generation], [{ name: 'laptop', kind: 'desktop', country: 'DE' }, 'pwd', true, 0]);
      assert.equal(byType('session.signed_in').find((e) => e.data.deviceId === phone.session.deviceId)!.data.persistent, false);
      const rotations = byType('session.rotated').sort((a, b) => a.data.generation! - b.data.generation!);
      assert.deepEqual(rotations.map((e) => [e.data.generation, e.data.authLevel]), [[1, 'pwd'], [2, 'otp']]);
      assert.deepEqual(byType('session.ended')[0]!.data.deviceIds, [phone.session.deviceId]);
      // Each delivery carries the Standard Webhooks headers; ids are unique and are what verifyWebhook returns.
      const ids = receiver.deliveries.map((d) => d.headers['webhook-id']);
      assert.equal(new Set(ids).size, ids.length);
      for (const d of receiver.deliveries) assert.match(String(d.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
      // A guest's own changes make no events.
      assert.equal(receiver.events().filter((e) => e.data.sessionId === guest.session.id).length, 0);
      assert.equal(await metric(server, 'tessera_webhooks_delivered_total'), receiver.deliveries.length);
      assert.equal(await metric(server, 'tessera_webhooks_queued_total'), receiver.deliveries.length);
    } finally {
      await server.close();
      await receiver.stop();
    }
  });

  test('events survive an outage of the receiver (retried until it is back) and a restart of the service', async () => {
    const receiver = new Receiver();
    await receiver.start();
    await receiver.stop(); // down, its port known
    const dir = mkdtempSync(join(tmpdir(), 'tessera-webhooks-'));
    dirs.push(dir);
    let server = await startTessera(webhookEnv(receiver), { dir });
    const userId = `bo-${Math.random().toString(36).slice(2)}`;
    try {
      const signedIn = await server.signIn({ userId });
      await server.request('POST', '/v1/session/rotate', { token: signedIn.token });
      // The receiver is down: the first event is being retried.
      for (let i = 0; i < 400 && (await metric(server, 'tessera_webhook_attempt_failures_total')) < 3; i += 1) await sleep(25);
      assert.ok((await metric(server, 'tessera_webhook_attempt_failures_total')) >= 3, 'retried while the receiver is down');
      assert.equal(await metric(server, 'tessera_webhooks_delivered_total'), 0);
      // The service restarts while the receiver is still down: the events wait in the feed, with their changes.
      await server.close();
      server = await startTessera(webhookEnv(receiver), { dir });
      const later = await server.signIn({ userId });
      await receiver.start();
      const events = ofUser(userId)(await receiver.until((all) => ofUser(userId)(all).length >= 3, 'the three events'));
      assert.deepEqual(events.map((e) => e.type).sort(), ['session.rotated', 'session.signed_in', 'session.signed_in']);
      assert.deepEqual(events.filter((e) => e.type === 'session.signed_in').map((e) => e.data.deviceId).sort(), [signedIn.session.deviceId, later.session.deviceId].sort());
      // Down again and back: the event made meanwhile arrives too.
      await receiver.stop();
      await server.request('DELETE', `/v1/users/${encodeURIComponent(userId)}/sessions`, { key: ADMIN_KEY });
      await sleep(200);
      await receiver.start();
      const ended = await receiver.until((all) => ofUser(userId)(all).some((e) => e.type === 'session.ended'), 'the end');
      assert.equal(ofUser(userId)(ended).find((e) => e.type === 'session.ended')!.data.reason, 'admin');
    } finally {
      await server.close();
      await receiver.stop();
    }
  });

  test('a receiver that hangs never holds up a request: deliveries wait, requests answer', async () => {
    const receiver = new Receiver();
    receiver.hang = true;
    await receiver.start();
    const server = await startTessera(webhookEnv(receiver, { TESSERA_WEBHOOK_TIMEOUT: '1m' }));
    try {
      const userId = `cy-${Math.random().toString(36).slice(2)}`;
      const first = await server.signIn({ userId });
      for (let i = 0; i < 400 && receiver.held.length === 0; i += 1) await sleep(25);
      assert.ok(receiver.held.length >= 1, 'a delivery is in flight, unanswered');
      // With the delivery held open, every request still answers at once (nothing in it waits for a delivery).
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) {
        statuses.push((await server.request('POST', '/v1/sessions', { body: { userId } })).status);
        statuses.push((await server.request('POST', '/v1/session/cart/items', { token: first.token, body: { sku: `S${i}` } })).status);
      }
      assert.deepEqual(statuses, Array.from({ length: 20 }, () => [201, 200]).flat());
      assert.ok(receiver.held.length >= 1, 'the delivery is still held while the requests were answered');
      assert.equal(receiver.deliveries.length, 0);
    } finally {
      await server.close();
      await receiver.stop();
    }
  });
});
