/**
 * Copies every key of a Redis (standalone or cluster) to a file and back, with
 * DUMP / RESTORE and the keys' remaining TTLs. Used to keep a seeded data set
 * between runs: the bytes are exactly what the engine wrote through the API.
 *
 * File format, repeated: u32 key length, key, f64 PTTL (0 = none),
 * u32 payload length, DUMP payload.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createClient, RESP_TYPES } from 'redis';

type Client = ReturnType<typeof createClient>;

/** Replies as Buffers: DUMP payloads are binary. */
const BINARY = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

async function connectBinary(url: string): Promise<Client> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

interface Shard {
  readonly url: string;
  readonly slots: ReadonlyArray<readonly [number, number]>;
}

/** The masters and their slots, or one shard with every slot for a standalone server. */
async function shards(seedUrl: string): Promise<Shard[]> {
  const client = await connectBinary(seedUrl);
  try {
    const info = String(await client.sendCommand(['INFO', 'cluster']));
    if (!info.includes('cluster_enabled:1')) return [{ url: seedUrl, slots: [[0, 16383]] }];
    const nodes = String(await client.sendCommand(['CLUSTER', 'NODES']));
    return nodes
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2]!.includes('master') && !f[2]!.includes('fail'))
      .map((f) => ({
        url: `redis://${f[1]!.split('@')[0]}`,
        slots: f
          .slice(8)
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as const;
          }),
      }));
  } finally {
    await client.close();
  }
}

/** Redis Cluster key slot: CRC16-XMODEM of the hash tag (or the key) mod 16384. */
export function keySlot(key: Buffer): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= key[i]! << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

export async function dumpRedis(seedUrl: string, file: string): Promise<number> {
  const out = createWriteStream(file);
  let keys = 0;
  for (const shard of await shards(seedUrl)) {
    const client = await connectBinary(shard.url);
    try {
      let cursor = '0';
      do {
        const [next, batch] = (await client.sendCommand(['SCAN', cursor, 'COUNT', '1000'], BINARY)) as unknown as [Buffer, Buffer[]];
        cursor = next.toString();
        const dumped = await Promise.all(batch.map(async (key) => [key, await client.sendCommand(['DUMP', key], BINARY), await client.sendCommand(['PTTL', key])] as const));
        for (const [key, payload, pttl] of dumped) {
          if (!(payload instanceof Buffer)) continue; // expired since SCAN
          const header = Buffer.alloc(4 + key.length + 8 + 4);
          header.writeUInt32LE(key.length, 0);
          key.copy(header, 4);
          header.writeDoubleLE(Math.max(0, Number(pttl)), 4 + key.length);
          header.writeUInt32LE(payload.length, 4 + key.length + 8);
          if (!out.write(header)) await once(out, 'drain');
          if (!out.write(payload)) await once(out, 'drain');
          keys++;
        }
      } while (cursor !== '0');
    } finally {
      await client.close();
    }
  }
  out.end();
  await once(out, 'finish');
  return keys;
}

export async function restoreRedis(seedUrl: string, file: string): Promise<number> {
  const targets = await shards(seedUrl);
  const clients: Client[] = await Promise.all(targets.map((s) => connectBinary(s.url)));
  const slotOwner = new Int16Array(16384).fill(-1);
  targets.forEach((s, i) => {
    for (const [a, b] of s.slots) slotOwner.fill(i, a, b + 1);
  });
  let restored = 0;
  let pending: Promise<unknown>[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of createReadStream(file)) {
      buffer = buffer.length === 0 ? (chunk as Buffer) : Buffer.concat([buffer, chunk as Buffer]);
      let pos = 0;
      for (;;) {
        if (buffer.length - pos < 4) break;
        const keyLength = buffer.readUInt32LE(pos);
        if (buffer.length - pos < 4 + keyLength + 12) break;
        const payloadLength = buffer.readUInt32LE(pos + 4 + keyLength + 8);
        const end = pos + 4 + keyLength + 12 + payloadLength;
        if (buffer.length < end) break;
        const key = Buffer.from(buffer.subarray(pos + 4, pos + 4 + keyLength));
        const pttl = buffer.readDoubleLE(pos + 4 + keyLength);
        const payload = Buffer.from(buffer.subarray(pos + 4 + keyLength + 12, end));
        const owner = slotOwner[keySlot(key)]!;
        if (owner < 0) throw new Error(`no master owns the slot of ${key.toString()}`);
        pending.push(clients[owner]!.sendCommand(['RESTORE', key, String(Math.round(pttl)), payload, 'REPLACE']));
        restored++;
        pos = end;
      }
      buffer = buffer.subarray(pos);
      if (pending.length >= 2000) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return restored;
}

/** Empties every master (FLUSHALL), e.g. after restoring a snapshot that turned out stale. */
export async function flushRedis(seedUrl: string): Promise<void> {
  for (const shard of await shards(seedUrl)) {
    const client = await connectBinary(shard.url);
    try {
      await client.sendCommand(['FLUSHALL']);
    } finally {
      await client.close();
    }
  }
}
