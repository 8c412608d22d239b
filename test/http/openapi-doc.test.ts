import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateOpenApi } from '../../scripts/openapi.js';

test('docs/openapi.json matches the route schemas (run `npm run openapi` after changing a route)', async () => {
  const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
  assert.equal(committed, await generateOpenApi());
});
