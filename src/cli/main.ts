#!/usr/bin/env node
/**
 * `tessera`: the package's command (`bin` in package.json), compiled to
 * `dist/src/cli/main.js` by `npm run build`: plain Node, no tsx at run time.
 */
import { runCli } from './run.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const outcome = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stdin: readStdin,
});
if (outcome !== 'serving') process.exitCode = outcome;
