/**
 * Tessera as a library: build the service from a configuration and run it in
 * your own process (what `src/main.ts` does for `npm start`). Most callers run
 * the service and talk to it over HTTP with the SDK (`client/`) instead.
 *
 * @example
 * import { createTessera, loadConfig } from 'tessera';
 * const tessera = await createTessera(loadConfig(process.env));
 * console.log(await tessera.listen());
 */
export { createTessera } from './tessera.js';
export type { Tessera, TesseraOptions } from './tessera.js';
export { ConfigError, loadConfig } from './config/config.js';
export type { Config } from './config/config.js';
export { StartupError } from './config/diagnostics.js';
export type { SessionStore, StoreConfig, StoreSettings } from './store/session-store.js';
export type { ChangeFeed, FeedEntry } from './store/feed.js';
