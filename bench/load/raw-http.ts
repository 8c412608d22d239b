/**
 * A minimal keep-alive HTTP/1.1 client for the load generator.
 *
 * General-purpose clients (undici, node:http) spend 50–100 µs of CPU per
 * request; on a 2-core machine shared with the server that would make the
 * generator the bottleneck. This one writes pre-serialized requests and parses
 * only what it must (status, Content-Length or chunked framing), like wrk.
 * One request in flight per connection (no pipelining); requests wait in a FIFO
 * when every connection is busy, and that wait counts in their latency.
 */
import { connect, type Socket } from 'node:net';

/** A response kept whole, for callers that asked to capture it (the seeder). */
export interface CapturedResponse {
  /** Status line and headers, as received. */
  readonly head: string;
  readonly body: Buffer;
}

export type Done = (error: Error | null, status: number, response?: CapturedResponse) => void;

interface Pending {
  readonly request: string;
  readonly done: Done;
  readonly capture: boolean;
  /** Set once the request was re-sent after a kept-alive socket turned out closed. */
  retried?: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

class Connection {
  private socket: Socket | null = null;
  private current: Pending | null = null;
  private buffer: Buffer | null = null;
  /** Offset of the body once headers are parsed, else -1. */
  private bodyStart = -1;
  private status = 0;
  private contentLength = -1;
  private chunked = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onIdle: (connection: Connection) => void,
  ) {}

  /** Whether the socket has already carried a response (so it may have idled out). */
  private reused = false;

  send(pending: Pending): void {
    this.current = pending;
    if (!this.socket) this.open();
    this.socket!.write(pending.request, 'utf8');
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private open(): void {
    this.reused = false;
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      this.fail(Object.assign(new Error('connection closed by server'), { code: 'ECONNRESET' }));
    });
  }

  private fail(error: Error): void {
    this.socket?.destroy();
    this.socket = null;
    this.reset();
    const pending = this.current;
    this.current = null;
    if (pending && this.reused && !pending.retried) {
      // The server closed an idle keep-alive socket as we wrote: retry once on a new one.
      pending.retried = true;
      this.send(pending);
      return;
    }
    if (pending) {
      pending.done(error, 0);
      this.onIdle(this);
    }
  }

  private reset(): void {
    this.buffer = null;
    this.bodyStart = -1;
    this.status = 0;
    this.contentLength = -1;
    this.chunked = false;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    const buf = this.buffer;
    if (this.bodyStart < 0) {
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      this.bodyStart = end + 4;
      this.status = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
      const head = buf.toString('latin1', 0, end).toLowerCase();
      const cl = head.indexOf('\r\ncontent-length:');
      if (cl >= 0) this.contentLength = parseInt(head.slice(cl + 17, head.indexOf('\r\n', cl + 17) >>> 0), 10);
      else if (head.includes('\r\ntransfer-encoding: chunked')) this.chunked = true;
      else if (this.status === 204 || this.status === 304) this.contentLength = 0;
      else {
        this.reused = false;
        this.fail(new Error('response has neither Content-Length nor chunked framing'));
        return;
      }
    }
    if (this.chunked) {
      if (!chunkedComplete(buf, this.bodyStart)) return;
    } else if (buf.length < this.bodyStart + this.contentLength) return;
    const pending = this.current!;
    const status = this.status;
    let captured: CapturedResponse | undefined;
    if (pending.capture) {
      const head = buf.toString('latin1', 0, this.bodyStart - 4);
      const body = this.chunked ? dechunk(buf, this.bodyStart) : buf.subarray(this.bodyStart, this.bodyStart + this.contentLength);
      captured = { head, body };
    }
    this.current = null;
    this.reused = true;
    this.reset();
    pending.done(null, status, captured);
    this.onIdle(this);
  }
}

/** Whether a chunked body starting at `start` has reached its last (zero-size) chunk. */
function chunkedComplete(buf: Buffer, start: number): boolean {
  let pos = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
    if (lineEnd < 0) return false;
    const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
    if (Number.isNaN(size)) return false;
    if (size === 0) return buf.indexOf(CRLFCRLF, lineEnd) >= 0;
    pos = lineEnd + 2 + size + 2;
    if (pos > buf.length) return false;
  }
}

function dechunk(buf: Buffer, start: number): Buffer {
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
    const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
}

export class RawHttpPool {
  private readonly idle: Connection[] = [];
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private readonly all: Connection[] = [];
  private readonly hostHeader: string;

  constructor(origin: string, connections: number) {
    const url = new URL(origin);
    const port = Number(url.port || 80);
    this.hostHeader = url.host;
    for (let i = 0; i < connections; i++) {
      const connection = new Connection(url.hostname, port, (c) => this.release(c));
      this.all.push(connection);
      this.idle.push(connection);
    }
  }

  /** Serializes a request once; the result can be sent many times. */
  serialize(method: string, path: string, headers: Record<string, string>, body?: string): string {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else head += '\r\n';
    return head;
  }

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  request(request: string, done: Done, capture = false): void {
    const pending: Pending = { request, done, capture };
    const connection = this.idle.pop();
    if (connection) connection.send(pending);
    else this.queue.push(pending);
  }

  /** The whole response, for the seeder. */
  fetch(request: string): Promise<{ status: number; head: string; body: Buffer }> {
    return new Promise((resolve, reject) =>
      this.request(
        request,
        (error, status, response) => (error ? reject(error) : resolve({ status, head: response!.head, body: response!.body })),
        true,
      ),
    );
  }

  close(): void {
    for (const connection of this.all) connection.close();
  }

  private release(connection: Connection): void {
    if (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Pending;
      if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      connection.send(next);
    } else this.idle.push(connection);
  }
}
