// Writes docs/openapi.json from the route schemas: `npm run openapi`.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logging.js';
import { createTessera } from '../src/tessera.js';

export async function generateOpenApi(): Promise<string> {
  const config = loadConfig({ TESSERA_SQLITE_PATH: ':memory:', TESSERA_API_KEYS: 'doc:doc-key-0000000000000', TESSERA_LOG_LEVEL: 'silent' });
  const tessera = await createTessera(config, { logger: createLogger('silent') });
  await tessera.app.ready();
  const document = `${JSON.stringify(tessera.app.swagger(), null, 2)}\n`;
  await tessera.close();
  return document;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/openapi.json', import.meta.url), await generateOpenApi());
  console.log('wrote docs/openapi.json');
}
