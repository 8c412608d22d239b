/**
 * Help texts of the `tessera` command, one per command, and the error that
 * stands for bad usage (exit 2). Exit codes follow `tessera-admin`
 * (client/src/cli.ts): 0 done, 1 failed (the message says why), 2 bad usage.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command line that cannot be run as written: printed with the command's help, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help to print (a key of `HELP`). */
    readonly command: string = 'tessera',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const STORE_OPTION = `  --store SPEC     the session store: sqlite:PATH, redis://HOST:PORT (or rediss://),
                   redis-cluster://SEEDS (as TESSERA_REDIS_NODES: HOST:PORT,... or
                   rediss://[USER:PASSWORD@]HOST:PORT,...); default: what TESSERA_STORE,
                   TESSERA_SQLITE_PATH, TESSERA_REDIS_URL or TESSERA_REDIS_NODES name.
                   A rediss:// store uses TESSERA_REDIS_CA, _CERT and _KEY`;

const ADMIN_ENV = `environment: TESSERA_URL (default http://127.0.0.1:8080, comma-separated for failover),
             TESSERA_ADMIN_KEY (an API key with the users scope, e.g. name:secret:users)`;

export const HELP: Readonly<Record<string, string>> = {
  tessera: `usage: tessera <command> [options]

commands:
  serve                         run the service (configured by TESSERA_* variables)
  status                        liveness and readiness of an endpoint (and of its management listener)
  session inspect <token|id>    what is stored about one session, secrets redacted
  user devices <userId>         the user's signed-in devices (admin API)
  user logout <userId>          log the user out of every device (admin API)
  keys generate                 a new API key for TESSERA_API_KEYS, or a webhook secret
  export --file FILE            every session of a store into an NDJSON file (resumable, verified)
  import --file FILE            every session of an export file into a store (resumable, verified)
  help [command]                this text, or a command's

Run tessera <command> --help for a command's options.
exit codes: 0 done, 1 failed (the message says why), 2 bad usage`,

  serve: `usage: tessera serve

Runs Tessera, configured by the TESSERA_* variables (docs/operations.md), until
SIGTERM or SIGINT, which drain in-flight requests first.
exit codes: 0 stopped cleanly, 1 failed to start or to stop, 2 invalid configuration`,

  status: `usage: tessera status [--url URL] [--admin-url URL]

Asks the API listener for /healthz and /readyz; with --admin-url, also the
management listener's /readyz and, in the global mode, its replication and
auth gauges from /metrics.
  --url URL        the API endpoint (default: TESSERA_URL, else http://127.0.0.1:8080)
  --admin-url URL  the management listener (e.g. http://127.0.0.1:8081)
exit codes: 0 live and ready, 1 not live, not ready or unreachable, 2 bad usage`,

  session: `usage: tessera session inspect <token|id|-> [--store SPEC]

Prints, as JSON, what the store holds of one session — live, expired, ended or
merged away: metadata, devices, cart, preferences, history, versions and
digest. CSRF secrets and token hashes are redacted. Given a token, also tells
whether the store accepts it. "-" reads the token or id from standard input
(keeps a token out of the shell's history).
${STORE_OPTION}
exit codes: 0 printed, 1 nothing stored under that id or the store failed, 2 bad usage`,

  user: `usage: tessera user devices <userId> [--url URL]
       tessera user logout <userId> [--url URL]

devices: the user's signed-in devices; logout: ends the user's session on every
device. Both go through the admin API (what tessera-admin does). A user id that
begins with "-" goes after "--": tessera user devices -- -alice
  --url URL        the API endpoint (default: TESSERA_URL)
${ADMIN_ENV}
exit codes: 0 done, 1 failed or no live session, 2 bad usage`,

  keys: `usage: tessera keys generate [--name NAME] [--scopes SCOPES] [--webhook]

Prints a new API key entry for TESSERA_API_KEYS (name:secret:scopes; join several
with commas), or with --webhook a signing secret for TESSERA_WEBHOOK_SECRET
(whsec_…). Only the value goes to standard output.
  --name NAME      the key's name, 1-32 of [A-Za-z0-9_-] (default: app)
  --scopes SCOPES  +-joined: sign-in, token, users, or the aliases sessions, admin
                   (default: sessions)
  --webhook        a webhook signing secret instead of an API key
exit codes: 0 printed, 2 bad usage`,

  export: `usage: tessera export --file FILE [--store SPEC] [--batch N]

Writes every session of the store (live, expired, ended, merged away) to FILE,
one JSON line per session, with its digest. Resumable: run it again after an
interruption and it continues from the last page it wrote. At the end the
file is checked line by line and against a new scan of the store (counts and
digests); sessions that changed meanwhile are exported again once. Run it
again on a finished file to catch up with later changes.
${STORE_OPTION}
  --file FILE      the export file (created, or continued)
  --batch N        sessions per page of the scan (default 500)
exit codes: 0 exported and verified, 1 failed or the store differs from the file, 2 bad usage`,

  import: `usage: tessera import --file FILE [--store SPEC] [--batch N] [--limit N]

Joins every session of an export file into the store (merges, as replication
does: importing twice changes nothing). Resumable: the store keeps how far the
import of this file went; run it again after an interruption and it continues
there. At the end the store is scanned again and every session compared with
the file (counts and digests). Sessions past their forgetting time are left out.
${STORE_OPTION}
  --file FILE      an export file written by tessera export
  --batch N        sessions merged per step (default 100)
  --limit N        stop after N sessions in this run (continue with another run)
exit codes: 0 imported and verified (or stopped at --limit), 1 failed or the store
            differs from the file, 2 bad usage`,
};

export function helpOf(command: string): string {
  return HELP[command] ?? HELP.tessera!;
}
