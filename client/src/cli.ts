#!/usr/bin/env node
/**
 * `tessera-admin`: the operator's command line, over the admin API.
 *
 *   TESSERA_URL=https://tessera.internal TESSERA_ADMIN_KEY=… npm run admin -- devices alice
 *
 * Commands: `devices <userId>`, `logout <userId>`, `export <userId>`,
 * `erase <userId> --yes`, `status`. Exit codes: 0 done, 1 failed (the message
 * says why), 2 bad usage.
 */
import { TesseraClient } from './client.js';
import { TesseraError } from './errors.js';

const USAGE = `usage: tessera-admin <command>

  devices <userId>       list the user's signed-in devices
  logout <userId>        log the user out of every device
  export <userId>        print everything stored about the user, as JSON (privacy access request)
  erase <userId> --yes   erase everything stored about the user (privacy erasure request)
  status                 liveness and readiness of the endpoint

environment: TESSERA_URL (default http://127.0.0.1:8080, comma-separated for failover),
             TESSERA_ADMIN_KEY (an API key with the users scope, e.g. name:secret:users)`;

export async function runAdmin(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [command, argument, ...flags] = argv;
  const endpoints = (env.TESSERA_URL ?? 'http://127.0.0.1:8080').split(',').map((u) => u.trim()).filter(Boolean);
  const needsUser = command !== 'status';
  if (command === undefined || !['devices', 'logout', 'export', 'erase', 'status'].includes(command) || (needsUser && !argument)) {
    out(USAGE);
    return 2;
  }
  if (command === 'erase' && !flags.includes('--yes')) {
    out(`tessera-admin: erasing cannot be undone; run again with --yes to erase everything stored about ${argument}`);
    return 2;
  }
  if (needsUser && !env.TESSERA_ADMIN_KEY) {
    out('tessera-admin: set TESSERA_ADMIN_KEY to an API key with the users scope (name:secret:users, or the v1 form name:secret:admin)');
    return 2;
  }
  const client = new TesseraClient({ endpoints, ...(env.TESSERA_ADMIN_KEY ? { apiKey: env.TESSERA_ADMIN_KEY } : {}) });
  try {
    switch (command) {
      case 'status': {
        const [live, ready] = await Promise.all([client.health(), client.ready()]);
        out(`live: ${live ? 'yes' : 'no'}  ready: ${ready ? 'yes' : 'no'}`);
        return live && ready ? 0 : 1;
      }
      case 'devices': {
        const { sessionId, devices } = await client.getUserDevices(argument!);
        out(`session ${sessionId}: ${devices.length} device(s)`);
        for (const d of devices) {
          out(`  ${d.id}  ${(d.name ?? '-').padEnd(20)} ${(d.kind ?? '-').padEnd(10)} since ${d.createdAt}  last active ${d.lastActiveAt}`);
        }
        return 0;
      }
      case 'export': {
        out(JSON.stringify(await client.exportUser(argument!), null, 2));
        return 0;
      }
      case 'erase': {
        const sessions = await client.eraseUser(argument!);
        out(`erased ${argument}: ${sessions} session(s)`);
        return 0;
      }
      default: {
        await client.logoutUser(argument!);
        out(`logged out ${argument} everywhere`);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof TesseraError && error.status === 404) {
      out(`no live session for ${argument}`);
      return 1;
    }
    out(`tessera-admin: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await client.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runAdmin(process.argv.slice(2), process.env, (line) => console.log(line));
}
