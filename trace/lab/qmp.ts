/**
 * A QMP client over a unix socket: greeting, capabilities negotiation, commands matched to replies by id,
 * and asynchronous events with QEMU's own timestamps. Every line sent and received is kept in a transcript
 * with the host's microsecond wall clock, so a run can be replayed into spans later.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Microseconds since the epoch (CLOCK_REALTIME, the clock QEMU stamps events and trace lines with). */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** An asynchronous QMP event. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** QEMU's timestamp of the event, µs since the epoch. */
  tUs: number;
  /** When the host read it, µs since the epoch. */
  receivedUs: number;
}

/** One command and its reply. */
export interface QmpExchange {
  command: string;
  arguments: Record<string, unknown> | undefined;
  sentUs: number;
  /** null while no reply came (the socket closed first). */
  receivedUs: number | null;
  ok: boolean;
  /** `return` on success, `error` on failure. */
  reply: unknown;
}

/** One line of the transcript: what went over the socket, when. */
export interface QmpLine {
  dir: 'send' | 'recv';
  tUs: number;
  line: string;
}

/** A command that QEMU answered with an error. */
export class QmpError extends Error {
  override name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
  }
}

/** The socket closed (QEMU exited) before a reply or event arrived. */
export class QmpClosedError extends Error {
  override name = 'QmpClosedError';
}

interface Pending {
  exchange: QmpExchange;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Options of `QmpClient.connect`. */
export interface QmpConnectOptions {
  /** Give up if the socket does not accept within this long (QEMU creates it at startup). */
  timeoutMs?: number;
  /** Stop retrying early when this returns false (e.g. the QEMU process already exited). */
  alive?: () => boolean;
}

/** A connected, negotiated QMP session. */
export class QmpClient {
  /** Every event received, in order. */
  readonly events: QmpEvent[] = [];
  /** Every command sent, with its reply. */
  readonly exchanges: QmpExchange[] = [];
  /** Every line, both ways. */
  readonly transcript: QmpLine[] = [];
  /** The greeting's QEMU version, e.g. "7.2.22". */
  version = '';
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private closedErr: Error | null = null;
  private readonly closeWaiters: (() => void)[] = [];
  private greeted: (() => void) | null = null;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err) => this.onClose(err));
    sock.on('close', () => this.onClose(new QmpClosedError('QMP socket closed')));
  }

  /** Connect to `path` (retrying while QEMU starts up), read the greeting and run qmp_capabilities. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
          s.once('error', reject);
        });
        const client = new QmpClient(sock);
        await client.negotiate(Math.max(1000, deadline - Date.now()));
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const retry = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!retry || Date.now() > deadline || (opts.alive && !opts.alive())) throw err;
        await sleep(20);
      }
    }
  }

  /** Whether the socket has closed. */
  get closed(): boolean {
    return this.closedErr !== null;
  }

  /** Resolves when the socket closes. */
  whenClosed(): Promise<void> {
    if (this.closedErr) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  /** Run `command`; resolves with its `return` value, rejects with `QmpError` or `QmpClosedError`. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedErr) return Promise.reject(new QmpClosedError(`QMP ${command}: socket already closed`));
    const id = `m${this.nextId++}`;
    const exchange: QmpExchange = {
      command,
      arguments: args,
      sentUs: 0,
      receivedUs: null,
      ok: false,
      reply: null,
    };
    this.exchanges.push(exchange);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { exchange, resolve: resolve as (v: unknown) => void, reject });
      this.send(args ? { execute: command, arguments: args, id } : { execute: command, id });
      exchange.sentUs = this.transcript[this.transcript.length - 1]!.tUs;
    });
  }

  /** Call `fn` for every event from now on; returns a function that unsubscribes. */
  onEvent(fn: (e: QmpEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The first event (already received or future) matching `pred`, or null after `timeoutMs`. */
  async waitEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent | null> {
    const seen = this.events.find(pred);
    if (seen) return seen;
    return new Promise((resolve) => {
      const done = (e: QmpEvent | null) => {
        clearTimeout(timer);
        off();
        resolve(e);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      const off = this.onEvent((e) => {
        if (pred(e)) done(e);
      });
      this.whenClosed().then(() => done(null));
    });
  }

  /** Close the socket (QEMU keeps running). */
  close(): void {
    this.sock.destroy();
  }

  private async negotiate(timeoutMs: number): Promise<void> {
    const greeting = new Promise<void>((resolve) => {
      this.greeted = resolve;
    });
    // Resolve-only racers: a rejecting timer would become an unhandled rejection once the greeting wins.
    const outcome = await Promise.race([
      greeting.then(() => 'greeted' as const),
      sleep(timeoutMs, 'timeout' as const, { ref: false }),
      this.whenClosed().then(() => 'closed' as const),
    ]);
    if (outcome === 'timeout') {
      this.close();
      throw new QmpClosedError(`no QMP greeting within ${timeoutMs} ms`);
    }
    if (outcome === 'closed') throw this.closedErr ?? new QmpClosedError('QMP socket closed');
    await this.execute('qmp_capabilities');
  }

  private send(msg: object): void {
    const line = JSON.stringify(msg);
    this.transcript.push({ dir: 'send', tUs: nowUs(), line });
    this.sock.write(`${line}\n`);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const tUs = nowUs();
    this.transcript.push({ dir: 'recv', tUs, line });
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QMP only sends JSON; a torn line at exit is not worth failing a run for
    }
    if ('QMP' in msg) {
      const v = (msg.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } }).version
        ?.qemu;
      if (v) this.version = `${v.major}.${v.minor}.${v.micro}`;
      this.greeted?.();
      return;
    }
    if ('event' in msg) {
      const ts = msg.timestamp as { seconds: number; microseconds: number } | undefined;
      const e: QmpEvent = {
        event: String(msg.event),
        data: (msg.data as Record<string, unknown>) ?? {},
        tUs: ts ? ts.seconds * 1e6 + ts.microseconds : tUs,
        receivedUs: tUs,
      };
      this.events.push(e);
      for (const fn of this.listeners) fn(e);
      return;
    }
    const id = msg.id as string | undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return;
    this.pending.delete(id);
    p.exchange.receivedUs = tUs;
    if ('error' in msg) {
      const err = msg.error as { class: string; desc: string };
      p.exchange.reply = err;
      p.reject(new QmpError(p.exchange.command, err.class, err.desc));
    } else {
      p.exchange.ok = true;
      p.exchange.reply = msg.return;
      p.resolve(msg.return);
    }
  }

  private onClose(err: Error): void {
    if (this.closedErr) return;
    this.closedErr = err;
    for (const [, p] of this.pending)
      p.reject(new QmpClosedError(`QMP ${p.exchange.command}: ${err.message}`));
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
