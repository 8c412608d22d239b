/**
 * Runs Tessera as a process: what `npm start` (`src/main.ts`) and `tessera
 * serve` (`src/cli/`) do. SIGTERM or SIGINT drains in-flight requests, closes
 * the store and exits 0; invalid configuration exits 2, a failed start 1, and a
 * fault nothing handles 1, logged at fatal first (`exitOnUnhandled`).
 */
import { ConfigError, DRAIN_DEADLINE_MS, loadConfig, type Config } from './config/config.js';
import { StartupError, explainListenError, explainStoreError } from './config/diagnostics.js';
import { createLogger, exitOnUnhandled } from './logging.js';
import { ReplicationSetupError } from './replication/streams.js';
import { createTessera, type Tessera } from './tessera.js';

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tessera: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, undefined, { traceIds: config.tracing !== null });
  exitOnUnhandled(logger);
  if (config.apiKeys.some((k) => k.secret.length < 16)) logger.warn('an API key in TESSERA_API_KEYS is shorter than 16 characters; use long random secrets in production');

  let tessera: Tessera;
  try {
    tessera = await createTessera(config, { logger });
  } catch (error) {
    if (error instanceof ReplicationSetupError) throw new StartupError([...error.variables], error.message, { cause: error });
    // Opening the store is what fails here in practice: say which variable points at it.
    throw explainStoreError(config.store, error) ?? error;
  }
  let address: string;
  try {
    address = await tessera.listen();
  } catch (error) {
    // The management listener's failures come explained already.
    if (error instanceof StartupError) throw error;
    // Without configured keys Tessera listens on loopback whatever TESSERA_HOST says.
    const host = tessera.generatedApiKey === null ? config.host : '127.0.0.1';
    throw explainListenError({ host, port: config.port }, error);
  }
  logger.info(
    { address, admin: tessera.adminAddress, store: config.store.engine, region: config.region, tracing: config.tracing === null ? 'off' : config.tracing.sampler },
    'tessera listening',
  );
  if (tessera.generatedApiKey !== null) {
    // Printed once, on purpose, to the terminal only: there was no key to use otherwise.
    process.stdout.write(
      `\nNo TESSERA_API_KEYS configured: generated an admin API key for this run (listening on loopback only):\n\n` +
        `  Authorization: Bearer ${tessera.generatedApiKey}\n\n`,
    );
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    // The drain's deadline runs from the end of the shutdown delay: a delay longer than it must not cut the drain off.
    setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdownDelayMs + DRAIN_DEADLINE_MS).unref();
    tessera.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Starts the service; a failure to start is printed and exits 1. */
export function runService(env: NodeJS.ProcessEnv = process.env): void {
  serve(env).catch((error: unknown) => {
    process.stderr.write(`tessera: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
