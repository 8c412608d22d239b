/** Opens the engine the configuration names. */
import type { SessionStore, StoreConfig, StoreSettings } from './session-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export async function openStore(config: StoreConfig, settings: StoreSettings): Promise<SessionStore> {
  switch (config.engine) {
    case 'sqlite':
      return new SqliteStore({ ...settings, path: config.path });
    case 'redis':
    case 'redis-cluster': {
      // Loaded on demand so that the embedded engine starts without the Redis client.
      const { RedisStore } = await import('./redis/redis-store.js');
      const tls = config.tls === undefined ? {} : { tls: config.tls };
      // The stored forms the configuration names, if any; the engine's defaults fill in the rest.
      const tuning = {
        tuning: {
          ...(config.historyForm === undefined ? {} : { historyForm: config.historyForm }),
          ...(config.userSessionsForm === undefined ? {} : { userSessionsForm: config.userSessionsForm }),
        },
      };
      return config.engine === 'redis'
        ? RedisStore.connect({ ...settings, engine: 'redis', url: config.url, ...tls, ...tuning })
        : RedisStore.connect({
            ...settings,
            engine: 'redis-cluster',
            nodes: config.nodes,
            ...tls,
            ...tuning,
            ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
          });
    }
  }
}
