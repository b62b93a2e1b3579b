/**
 * A recording QMP proxy: listens on a unix socket, opens a connection to QEMU's monitor socket for each
 * client, and forwards the bytes both ways unchanged while it keeps every line (command, reply, event,
 * greeting) with the host's µs wall clock. The record turns into spans with `proxySpans` (spans.ts).
 * Put it between libvirtd (or any QMP client) and QEMU: `-qmp unix:REAL,server=on,wait=off`, then point
 * the client at the proxy's socket.
 */
import { existsSync, lstatSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { nowUs } from '../lab/qmp.ts';

/** Client to QEMU ("send") or QEMU to client ("recv"). */
export type Direction = 'send' | 'recv';

/** One line that crossed the proxy. */
export interface ProxyLine {
  /** Connection number (1, 2, ...: one per client connection). */
  conn: number;
  dir: Direction;
  /** When the chunk that completed the line arrived, µs since the epoch. */
  tUs: number;
  /** The line without its line ending. */
  line: string;
}

/** One client connection. */
export interface ProxyConnection {
  conn: number;
  openUs: number;
  closeUs: number | null;
  /** Bytes forwarded each way. */
  sentBytes: number;
  receivedBytes: number;
  /** Why the connection to QEMU failed or ended abnormally, if it did. */
  error: string | null;
}

/** Everything a proxy session saw (qmp-record.json). */
export interface ProxyRecord {
  kind: 'migscope-qmp-record';
  version: 1;
  /** Which QEMU the monitor belongs to, when the user said so (otherwise inferred from the commands). */
  side: 'source' | 'destination' | null;
  listen: string;
  qemu: string;
  startUs: number;
  endUs: number | null;
  connections: ProxyConnection[];
  lines: ProxyLine[];
}

/** Options of `QmpProxy.start`. */
export interface QmpProxyOptions {
  /** The unix socket to listen on (a stale socket file there is replaced). */
  listen: string;
  /** QEMU's monitor socket. */
  qemu: string;
  side?: 'source' | 'destination';
  /** µs wall clock (default: the host's CLOCK_REALTIME). */
  clock?: () => number;
  /** Called for every recorded line (e.g. a live status line). */
  onLine?: (l: ProxyLine) => void;
}

/** A running proxy. */
export class QmpProxy {
  readonly record: ProxyRecord;
  private readonly sockets = new Set<Socket>();
  private nextConn = 1;
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly opts: QmpProxyOptions,
    private readonly clock: () => number,
  ) {
    this.record = {
      kind: 'migscope-qmp-record',
      version: 1,
      side: opts.side ?? null,
      listen: opts.listen,
      qemu: opts.qemu,
      startUs: clock(),
      endUs: null,
      connections: [],
      lines: [],
    };
    server.on('connection', (client) => this.accept(client));
  }

  /** Listen on `opts.listen`; resolves once the socket accepts connections. */
  static async start(opts: QmpProxyOptions): Promise<QmpProxy> {
    if (existsSync(opts.listen)) {
      if (!lstatSync(opts.listen).isSocket())
        throw new Error(`${opts.listen} exists and is not a socket; refusing to replace it`);
      rmSync(opts.listen);
    }
    const server = createServer({ pauseOnConnect: true });
    const proxy = new QmpProxy(server, opts, opts.clock ?? nowUs);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.listen, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** Number of client connections so far. */
  get connections(): number {
    return this.record.connections.length;
  }

  /** Stop listening, close every connection, and return the record. */
  async close(): Promise<ProxyRecord> {
    if (!this.closed) {
      this.closed = true;
      for (const s of this.sockets) s.destroy();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      rmSync(this.opts.listen, { force: true });
      this.record.endUs = this.clock();
      for (const c of this.record.connections) c.closeUs ??= this.record.endUs;
    }
    return this.record;
  }

  private accept(client: Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    const conn: ProxyConnection = {
      conn: this.nextConn++,
      openUs: this.clock(),
      closeUs: null,
      sentBytes: 0,
      receivedBytes: 0,
      error: null,
    };
    this.record.connections.push(conn);
    const upstream = connect(this.opts.qemu);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const fail = (err: NodeJS.ErrnoException) => {
      // A peer that resets instead of closing (a client's destroy(), QEMU's quit) is an ordinary end.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') conn.error ??= err.message;
      conn.closeUs ??= this.clock();
      client.destroy();
      upstream.destroy();
    };
    // One side closing ends the other gracefully, so what is already written (a last event) still arrives.
    const closed = (s: Socket, other: Socket) => () => {
      this.sockets.delete(s);
      conn.closeUs ??= this.clock();
      if (!other.destroyed) other.end();
    };
    upstream.once('connect', () => {
      this.pipe(client, upstream, conn, 'send');
      this.pipe(upstream, client, conn, 'recv');
      client.resume();
    });
    client.on('error', fail);
    upstream.on('error', fail);
    client.on('close', closed(client, upstream));
    upstream.on('close', closed(upstream, client));
  }

  /** Forward `from` → `to` byte for byte (with backpressure) and record the lines on the way. */
  private pipe(from: Socket, to: Socket, conn: ProxyConnection, dir: Direction): void {
    const decoder = new StringDecoder('utf8');
    let buf = '';
    from.on('data', (chunk: Buffer) => {
      const tUs = this.clock();
      if (dir === 'send') conn.sentBytes += chunk.length;
      else conn.receivedBytes += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      buf += decoder.write(chunk);
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line.trim()) this.keep({ conn: conn.conn, dir, tUs, line });
      }
    });
    from.on('end', () => {
      const rest = (buf + decoder.end()).replace(/\r$/, '');
      if (rest.trim()) this.keep({ conn: conn.conn, dir, tUs: this.clock(), line: rest });
      buf = '';
      to.end();
    });
  }

  private keep(l: ProxyLine): void {
    this.record.lines.push(l);
    this.opts.onLine?.(l);
  }
}
