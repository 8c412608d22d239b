import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expiresAt, isSessionLive, mergeMeta } from '../../src/domain/session.js';
import { BASE_TIME, newMeta } from './support.js';

test('activity anywhere keeps the latest activity and idle deadline', () => {
  const meta = newMeta();
  const merged = mergeMeta({ ...meta, lastActiveAt: BASE_TIME + 5, idleExpiresAt: BASE_TIME + 500 }, { ...meta, lastActiveAt: BASE_TIME + 9, idleExpiresAt: BASE_TIME + 100 });
  assert.equal(merged.lastActiveAt, BASE_TIME + 9);
  assert.equal(merged.idleExpiresAt, BASE_TIME + 500);
});

test('an ended session stays ended, at the earliest end time', () => {
  const meta = newMeta();
  const ended = { ...meta, endedAt: BASE_TIME + 7 };
  assert.equal(mergeMeta(meta, ended).endedAt, BASE_TIME + 7);
  assert.equal(mergeMeta(ended, meta).endedAt, BASE_TIME + 7);
  assert.equal(mergeMeta({ ...meta, endedAt: BASE_TIME + 3 }, ended).endedAt, BASE_TIME + 3);
  assert.equal('endedAt' in mergeMeta(meta, meta), false);
});

test('a session is served until the earlier of its idle and absolute deadlines, and never once ended', () => {
  const meta = { ...newMeta(), idleExpiresAt: BASE_TIME + 100, absoluteExpiresAt: BASE_TIME + 50 };
  assert.equal(expiresAt(meta), BASE_TIME + 50);
  assert.equal(isSessionLive(meta, BASE_TIME + 49), true);
  assert.equal(isSessionLive(meta, BASE_TIME + 50), false);
  assert.equal(isSessionLive({ ...meta, endedAt: BASE_TIME }, BASE_TIME + 1), false);
});
