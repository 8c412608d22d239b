/**
 * A Redis Cluster client that heals itself after a failover.
 *
 * node-redis follows MOVED and ASK, and re-reads the slot map on MOVED. A
 * master that dies sends no MOVED, though, and node-redis's own refresh waits
 * on connections to every node it learns of — for ever, if one of them is the
 * dead master. So when a call fails in a way that hints at a topology change,
 * this module builds a fresh cluster client (one CLUSTER SLOTS from a known
 * node; node connections are made lazily, on first use), swaps it in and lets
 * the old one finish its in-flight commands. Builds are throttled.
 */
import { createCluster } from 'redis';
import { clientDefaults, connectWithin, Replaceable, type Commands } from './clients.js';
import type { RedisCredentials, TlsFiles } from '../session-store.js';
import { refusedClientCertificate } from '../../refusals.js';
import type { RedisTuning } from './options.js';
import { callFunction, tesseraFunctions } from './scripts.js';

function newCluster(rootNodes: readonly string[], tuning: RedisTuning, tls: TlsFiles | undefined, credentials: RedisCredentials | undefined) {
  const cluster = createCluster({
    rootNodes: rootNodes.map((node) => ({ url: node.includes('://') ? node : `redis://${node}` })),
    // The nodes it learns of get these too: TLS and the credentials for every node.
    defaults: { ...clientDefaults(tuning, tls), ...credentials },
    useReplicas: false,
    // Connect to a node when a command first needs it, so that a dead node never blocks discovery.
    minimizeConnections: true,
    maxCommandRedirections: 16,
  });
  cluster.on('error', () => undefined);
  cluster.on('node-error', () => undefined);
  return cluster;
}

async function connectCluster(rootNodes: readonly string[], tuning: RedisTuning, tls: TlsFiles | undefined, credentials: RedisCredentials | undefined) {
  const cluster = newCluster(rootNodes, tuning, tls, credentials);
  await connectWithin(tuning.startupTimeoutMs, () => cluster.connect(), () => cluster.destroy(), (listener) => {
    cluster.on('error', listener);
    cluster.on('node-error', listener);
  });
  return cluster;
}

export async function openCluster(
  seeds: readonly string[],
  tuning: RedisTuning,
  tls?: TlsFiles,
  credentials?: RedisCredentials,
  onRefused?: (alert: string) => void,
): Promise<Commands> {
  // A node that refuses this node's client certificate is told of; the commands that meet it
  // replace the cluster client (`recover`), and the new one reads the certificate files again.
  const connect = async (rootNodes: readonly string[]) => {
    const cluster = await connectCluster(rootNodes, tuning, tls, credentials);
    cluster.on('node-error', (error: unknown) => {
      const alert = refusedClientCertificate(error);
      if (alert !== null) onRefused?.(alert);
    });
    return cluster;
  };
  const clusters = new Replaceable(
    await connect(seeds),
    // Ask the nodes known now first: after failovers the seed list may be out of date.
    (current) => connect([...new Set([...current.masters.map((node) => node.address), ...seeds])]),
    (cluster) => cluster.destroy(),
    tuning.topologyRefreshMs,
  );
  const library = tesseraFunctions(tuning);
  return {
    script: (name, keys, args) =>
      clusters.run((c) =>
        callFunction(
          library,
          name,
          // node-redis only reads the arrays; the first key routes FCALL to the slot's master.
          (fn) => c.fCall(fn, { keys: keys as string[], arguments: args as string[] }),
          // Loaded where the call went: the master of the first key's slot.
          (code) => c.sendCommand(keys[0], false, ['FUNCTION', 'LOAD', code]),
        ),
      ),
    get: (key) => clusters.run((c) => c.get(key)),
    setIfAbsent: async (key, value, deadline) =>
      (await clusters.run((c) => c.set(key, value, { condition: 'NX', expiration: { type: 'PXAT', value: deadline } }))) === 'OK',
    set: async (key, value, deadline) => void (await clusters.run((c) => c.set(key, value, { expiration: { type: 'PXAT', value: deadline } }))),
    del: async (keys) => void (await clusters.run((c) => c.del([...keys]))),
    command: (key, args) => clusters.run((c) => c.sendCommand(key, false, [...args])),
    // The cursor is "<master index>:<that master's cursor>"; a topology change during a scan may
    // repeat or skip keys, which its callers (anti-entropy, export) tolerate.
    scanKeys: (cursor, match, count) =>
      clusters.run(async (c) => {
        const [index = 0, nodeCursor = '0'] = cursor === '0' ? [0, '0'] : [Number(cursor.split(':')[0]), cursor.split(':')[1]];
        const master = c.masters[index];
        if (master === undefined) return { keys: [], cursor: '0' };
        const reply = await (await c.nodeClient(master)).scan(nodeCursor, { MATCH: match, COUNT: count });
        const next = reply.cursor !== '0' ? `${index}:${reply.cursor}` : index + 1 < c.masters.length ? `${index + 1}:0` : '0';
        return { keys: reply.keys, cursor: next };
      }),
    // On the cluster client of the moment: one that is replaced loses them, and the feed's sweep covers the gap.
    listen: (channels, listener) => clusters.run((c) => c.sSubscribe([...channels], (_message, channel) => listener(channel))),
    // Ready while any master answers: a master failing over makes only its own slots unavailable.
    ping: () =>
      clusters.run(async (c) => {
        await Promise.any(c.masters.map(async (master) => (await c.nodeClient(master)).ping()));
      }),
    recover: () => clusters.replace(),
    close: () => clusters.close(),
  };
}
