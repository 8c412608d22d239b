/**
 * `npm run sim`: starts the multi-region simulation and takes commands on
 * stdin until `quit` or Ctrl-C. See sim/README.md.
 *
 *   npm run sim -- --regions eu,us,ap --rtt 60 --nodes 1 --engine redis
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startSim, type RegionStatus, type Sim } from './harness.js';

const HELP = `commands:
  status                     processes up, NATS routes each server sees, JetStream meta leader
  kill <region>              SIGKILL the region's nats-server, redis-server and Tessera nodes
  restart <region>           start them again (same ports, same data)
  partition <region>         cut every link between the region and the others (silently, both ways)
  heal <region>              undo partition
  rtt <a> <b> <ms>           set the round-trip time between two regions
  wipe <region>              kill the region's Tessera nodes and store, delete the store's data, restart them
  kill-nats <region> | restart-nats <region>
  kill-tessera <region> [node] | restart-tessera <region> [node]
  help                       this text
  quit                       stop everything and exit (Ctrl-C too)`;

function parseOptions(): Parameters<typeof startSim>[0] {
  const { values } = parseArgs({
    options: {
      regions: { type: 'string', default: 'eu,us,ap' },
      rtt: { type: 'string', default: '60' },
      nodes: { type: 'string', default: '1' },
      engine: { type: 'string', default: 'redis' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run sim -- [--regions eu,us,ap] [--rtt 60] [--nodes 1] [--engine redis|sqlite]\n\n${HELP}\n`);
    process.exit(0);
  }
  const engine = values.engine;
  if (engine !== 'redis' && engine !== 'sqlite') throw new Error(`--engine must be redis or sqlite, got ${engine}`);
  const rtt = Number(values.rtt);
  const nodes = Number(values.nodes);
  if (!Number.isFinite(rtt) || rtt < 0) throw new Error(`--rtt must be a number of ms ≥ 0, got ${values.rtt}`);
  if (!Number.isInteger(nodes) || nodes < 0) throw new Error(`--nodes must be an integer ≥ 0, got ${values.nodes}`);
  return { regions: values.regions.split(',').map((r) => r.trim()).filter(Boolean), rttMs: rtt, nodesPerRegion: nodes, engine };
}

function describe(sim: Sim): string {
  const lines = [`Tessera simulation in ${sim.dir}`, `API key (admin): ${sim.apiKey}`, ''];
  for (const region of sim.regions) {
    lines.push(`${region.name}:`);
    for (const url of region.urls) lines.push(`  tessera  ${url}`);
    lines.push(`  nats     ${region.natsUrl}   (monitor ${region.natsMonitorUrl})`);
    if (region.redisUrl) lines.push(`  redis    ${region.redisUrl}`);
  }
  return lines.join('\n');
}

function formatStatus(regions: readonly RegionStatus[]): string {
  return regions
    .map((r) => {
      const flags = [
        `nats ${r.nats ? 'up' : 'DOWN'}`,
        ...(r.redis === null ? [] : [`redis ${r.redis ? 'up' : 'DOWN'}`]),
        ...(r.tessera.length > 0 ? [`tessera ${r.tessera.map((up) => (up ? 'up' : 'DOWN')).join(',')}`] : []),
        `routes → ${r.routesTo.length > 0 ? r.routesTo.join(',') : '(none)'}`,
        `meta leader ${r.metaLeader ?? '(none)'}`,
      ];
      return `${r.name.padEnd(6)} ${r.partitioned ? '[PARTITIONED] ' : ''}${flags.join('  ')}`;
    })
    .join('\n');
}

async function run(sim: Sim, line: string): Promise<string | 'quit'> {
  const [command, ...args] = line.trim().split(/\s+/);
  const region = args[0] ?? '';
  const node = args[1] === undefined ? undefined : Number(args[1]);
  switch (command) {
    case undefined:
    case '':
      return '';
    case 'help':
      return HELP;
    case 'quit':
    case 'exit':
      return 'quit';
    case 'status':
      return formatStatus(await sim.status());
    case 'kill':
      await sim.killRegion(region);
      return `${region}: killed`;
    case 'restart':
      await sim.restartRegion(region);
      return `${region}: running`;
    case 'partition':
      await sim.partition(region);
      return `${region}: partitioned (NATS drops the routes after ~3-4 s of unanswered pings)`;
    case 'heal':
      await sim.heal(region);
      return `${region}: healed`;
    case 'rtt': {
      const ms = Number(args[2]);
      sim.setRtt(region, args[1] ?? '', ms);
      return `rtt ${region}-${args[1]}: ${ms} ms`;
    }
    case 'wipe':
      await sim.wipeRegion(region);
      await sim.restartTessera(region);
      return `${region}: store wiped, running`;
    case 'kill-nats':
      await sim.killNats(region);
      return `${region}: nats-server killed`;
    case 'restart-nats':
      await sim.restartNats(region);
      return `${region}: nats-server running`;
    case 'kill-tessera':
      await sim.killTessera(region, node);
      return `${region}: Tessera killed`;
    case 'restart-tessera':
      await sim.restartTessera(region, node);
      return `${region}: Tessera running`;
    default:
      return `unknown command "${command}" (try help)`;
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  process.stdout.write('starting the simulation…\n');
  const sim = await startSim(options);
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    // Never rejects: it is called from signal handlers and a detached queue.
    try {
      await sim.stop();
    } catch (error) {
      process.stderr.write(`sim: stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.stdout.write(`${describe(sim)}\n\ntype help for the commands\n`);

  const input = createInterface({ input: process.stdin, output: process.stdout, prompt: 'sim> ', terminal: process.stdin.isTTY });
  input.prompt();
  // One command at a time, in order, even when lines arrive faster than they run (piped input).
  let queue = Promise.resolve();
  input.on('line', (line) => {
    queue = queue.then(async () => {
      if (stopping) return;
      try {
        const output = await run(sim, line);
        if (output === 'quit') return stop(0);
        if (output !== '') process.stdout.write(`${output}\n`);
      } catch (error) {
        process.stdout.write(`error: ${(error as Error).message}\n`);
      }
      input.prompt();
    });
  });
  input.on('close', () => void queue.then(() => stop(0)));
}

main().catch((error: unknown) => {
  process.stderr.write(`sim: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
