/**
 * Counts the commands clients send to a Redis server, through MONITOR.
 * Commands that scripts run inside the server are reported by MONITOR as
 * `[<db> lua]` and left out: what is counted is round trips.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { respCommand } from './resp.js';

export interface CommandLog {
  /** Names of the commands clients sent since the last `take()`, in order. */
  take(): Promise<string[]>;
  stop(): void;
}

export async function monitor(port: number): Promise<CommandLog> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let buffer = '';
  const lines: string[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      lines.push(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => resolve());
  });
  socket.write('MONITOR\r\n');
  while (!lines.includes('+OK')) await sleep(5);
  lines.length = 0;

  let marks = 0;
  return {
    async take() {
      // MONITOR reports commands in the order they ran: once a marker sent now shows up,
      // every command that finished before it has been reported.
      const marker = `tessera-monitor-mark-${(marks += 1)}`;
      await respCommand(port, ['ECHO', marker]);
      const deadline = Date.now() + 2000;
      while (!lines.some((l) => l.includes(marker))) {
        if (Date.now() > deadline) throw new Error('MONITOR did not report the marker');
        await sleep(5);
      }
      const taken = lines.splice(0, lines.length);
      return taken
        .filter((line) => !line.includes(marker) && !/^\+\d+\.\d+ \[\d+ lua\]/.test(line))
        .map((line) => {
          const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
          return args.slice(0, 1).join(' ').toUpperCase();
        });
    },
    stop() {
      socket.destroy();
    },
  };
}
