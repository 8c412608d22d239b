/**
 * `npm run demo`: Tessera on its embedded store plus the storefront.
 * Set TESSERA_URL and TESSERA_API_KEY to use a Tessera that is already running,
 * DEMO_PORT to choose the shop's port (default 3000), DEMO_DB for the SQLite file.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Server } from 'node:http';
import { TesseraClient } from '../client/src/index.js';
import { createShop } from './shop.js';
import { freePort, startEmbeddedTessera, type EmbeddedTessera } from './tessera-process.js';

async function main(): Promise<void> {
  let embedded: EmbeddedTessera | undefined;
  let endpoint = process.env.TESSERA_URL;
  let apiKey = process.env.TESSERA_API_KEY;
  if (!endpoint || !apiKey) {
    const db = resolve(process.env.DEMO_DB ?? 'data/demo.db');
    mkdirSync(dirname(db), { recursive: true });
    embedded = await startEmbeddedTessera(db);
    endpoint = embedded.url;
    apiKey = embedded.apiKey;
    console.log(`Tessera (embedded store ${db}) at ${endpoint}`);
  }
  const client = new TesseraClient({ endpoints: endpoint, apiKey });
  const shop = createShop({ client });

  const wanted = Number(process.env.DEMO_PORT ?? 3000);
  const server = await listen(shop, wanted).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE' || process.env.DEMO_PORT) throw error;
    return listen(shop, await freePort());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : wanted;
  console.log(`\n  Storefront: http://localhost:${port}\n\n  Open it in two browsers (or a private window) to play two devices. Ctrl-C stops both.\n`);

  const stop = async () => {
    server.close();
    await client.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function listen(app: ReturnType<typeof createShop>, port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = app.listen(port, '127.0.0.1');
    server.once('listening', () => done(server));
    server.once('error', fail);
  });
}

main().catch((error: unknown) => {
  console.error(`demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
