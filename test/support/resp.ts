/**
 * A minimal one-shot RESP2 client for the test harness: opens a socket, sends
 * one command, reads one reply, closes. The harness uses it to probe servers it
 * starts (PING, CLUSTER INFO…) without depending on the client under test.
 */
import { connect } from 'node:net';

export type RespReply = string | number | null | RespError | RespReply[];

export class RespError extends Error {
  override readonly name = 'RespError';
}

/** Sends one command to 127.0.0.1:`port`; rejects on connection failure or timeout. */
export function respCommand(port: number, args: readonly (string | number)[], timeoutMs = 2000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const done = (error: Error | null, reply?: RespReply): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    const timer = setTimeout(() => done(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (error) => done(error));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed !== undefined) done(null, parsed.value);
    });
    socket.write(encodeCommand(args));
  });
}

function encodeCommand(args: readonly (string | number)[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

/** The reply at `offset`, or undefined when the buffer does not hold all of it yet. */
function parseReply(buffer: Buffer, offset: number): { value: RespReply; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new RespError(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buffer, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`unexpected RESP type byte "${type}"`);
  }
}
