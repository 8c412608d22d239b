/**
 * Issue 15, defects 1 and 6, through the real app: reuse of any token a
 * device ever issued revokes it, however many rotations ago (tokens carry
 * their generation), and the idle timeout is per device — a busy phone does
 * not keep a forgotten kiosk signed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTessera, type TestServer } from '../support/tessera-server.js';

let wall = Date.now();
const advance = (ms: number): void => {
  wall += ms;
};

describe('token generations and per-device idle', () => {
  let server: TestServer;
  before(async () => {
    server = await startTessera({ TESSERA_IDLE_TIMEOUT: '10s', TESSERA_ROTATION_GRACE: '1s' }, { now: () => wall });
  });
  after(() => server.close());

  const status = async (token: string): Promise<number> => (await server.request('GET', '/v1/session', { token })).status;
  const reuses = async (): Promise<number> => {
    const text = (await server.request('GET', '/metrics', { admin: true, key: null })).text;
    return Number(/^tessera_token_reuse_total (\d+)$/m.exec(text)?.[1] ?? 0);
  };

  test('a token from ten rotations ago, long past the hashes a device remembers, revokes the device', async () => {
    const tokens = [(await server.signIn({ userId: `gen-${Math.random()}` })).token];
    for (let i = 0; i < 10; i += 1) {
      const rotated = await server.request('POST', '/v1/session/rotate', { token: tokens.at(-1)! });
      assert.equal(rotated.status, 200);
      tokens.push(rotated.body.token);
      advance(1_100);
    }
    const generations = tokens.map((token) => Number.parseInt(token.split('.')[2]!, 36));
    assert.deepEqual(generations, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'each token names its generation');
    assert.equal(await status(tokens.at(-1)!), 200);
    const before = await reuses();
    assert.equal(await status(tokens[0]!), 401, 'the first token is refused');
    assert.equal(await reuses(), before + 1, 'and counted as reuse');
    assert.equal(await status(tokens.at(-1)!), 401, "the thief's rotation no longer protects the device: it is revoked");
  });

  test('an old generation with a made-up secret is reuse too; the current generation with a wrong secret is not', async () => {
    const first = await server.signIn({ userId: `forged-${Math.random()}` });
    const second = (await server.request('POST', '/v1/session/rotate', { token: first.token })).body;
    advance(1_100);
    const head = second.token.split('.').slice(0, 2).join('.'); // tss1_<session>.<device>
    const wrongSecretNow = `${head}.1.${'A'.repeat(43)}`;
    assert.equal(await status(wrongSecretNow), 401);
    assert.equal(await status(second.token), 200, 'a wrong secret of the current generation revokes nothing');
    const before = await reuses();
    assert.equal(await status(`${head}.0.${'A'.repeat(43)}`), 401);
    assert.equal(await reuses(), before + 1);
    assert.equal(await status(second.token), 401);
  });

  test('a device idle past the timeout is signed out while the user’s other device keeps the session alive', async () => {
    const userId = `kiosk-${Math.random()}`;
    const phone = await server.signIn({ userId, device: { name: 'phone' } });
    const kiosk = await server.signIn({ userId, device: { name: 'kiosk' } });
    assert.equal(phone.session.id, kiosk.session.id);
    for (let i = 0; i < 6; i += 1) {
      advance(2_000);
      assert.equal(await status(phone.token), 200, `the phone is used (${i})`);
    }
    assert.equal(await status(kiosk.token), 401, 'the kiosk, unused for 12 s, is out');
    assert.equal(await status(phone.token), 200, 'the phone is still in');
    const devices = (await server.request('GET', '/v1/session/devices', { token: phone.token })).body.devices as Array<{ name?: string }>;
    assert.ok(devices.some((d) => d.name === 'phone'));
  });
});
