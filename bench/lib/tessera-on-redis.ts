/**
 * A Tessera on a Redis of its own, in this process, listening on a free port
 * with one API key and nothing logged: what the bench's single-purpose
 * measurements (`bench:memory`, `bench:repair`) seed through the API.
 */
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging.js';
import { createTessera, type Tessera } from '../../src/tessera.js';
import type { RedisServer } from '../../test/support/redis-harness.js';

export interface TesseraOnRedis {
  readonly tessera: Tessera;
  /** The API's address, `http://127.0.0.1:<port>`. */
  readonly origin: string;
}

/** Starts Tessera on `redis` with the API key `bench:<key>` and any other `env`; close `tessera` when done. */
export async function tesseraOnRedis(redis: RedisServer, key: string, env: Readonly<Record<string, string>> = {}): Promise<TesseraOnRedis> {
  const config = loadConfig({
    TESSERA_API_KEYS: `bench:${key}`, TESSERA_LOG_LEVEL: 'silent', TESSERA_PORT: '0', TESSERA_ADMIN_PORT: '0', TESSERA_SHUTDOWN_DELAY: '0s',
    TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url, ...env,
  });
  const tessera = await createTessera(config, { logger: createLogger('silent') });
  try {
    return { tessera, origin: await tessera.listen() };
  } catch (error) {
    await tessera.close();
    throw error;
  }
}
