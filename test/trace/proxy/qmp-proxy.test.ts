/** trace/proxy: the recording QMP proxy over real unix sockets, against a scripted fake QEMU. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpError } from '../../../trace/lab/qmp.ts';
import { mergeTrace } from '../../../trace/merge.ts';
import { ATTR, EVENT, SPAN } from '../../../trace/names.ts';
import { QmpProxy } from '../../../trace/proxy/qmp-proxy.ts';
import { proxySpans } from '../../../trace/proxy/spans.ts';

const GREETING = {
  QMP: { version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian' }, capabilities: ['oob'] },
};
/** QEMU's event clock: 2026-11-27 15:20:34.189850 UTC and later. */
const T0 = 1795792834;

let dir: string;
let qemuPath: string;
let proxyPath: string;
let server: Server;
let conns: Socket[];
/** Every byte the fake QEMU received, per connection. */
let received: Buffer[];
let proxy: QmpProxy | null;

/** A fake QEMU monitor: greeting, replies by command; `migrate` runs a tiny migration via events. */
function fakeQemu(): Promise<void> {
  conns = [];
  received = [];
  server = createServer((sock) => {
    const n = conns.push(sock) - 1;
    received[n] = Buffer.alloc(0);
    const send = (m: object) => sock.write(`${JSON.stringify(m)}\r\n`);
    const event = (event: string, data: object | undefined, us: number) =>
      send({
        timestamp: { seconds: T0 + Math.floor(us / 1e6), microseconds: us % 1e6 },
        event,
        ...(data ? { data } : {}),
      });
    send(GREETING);
    let buf = '';
    sock.on('data', (d: Buffer) => {
      received[n] = Buffer.concat([received[n]!, d]);
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        let msg: { execute?: string; id?: unknown; arguments?: unknown };
        try {
          msg = JSON.parse(line);
        } catch {
          continue; // raw bytes of the forwarding test
        }
        const id = msg.id;
        const reply = (r: object) => send(id === undefined ? r : { ...r, id });
        switch (msg.execute) {
          case 'qmp_capabilities':
          case 'migrate-set-parameters':
            reply({ return: {} });
            break;
          case 'migrate':
            event('MIGRATION', { status: 'setup' }, 189850);
            reply({ return: {} });
            setTimeout(() => {
              event('MIGRATION_PASS', { pass: 1 }, 194402);
              event('MIGRATION', { status: 'active' }, 194917);
              event('MIGRATION_PASS', { pass: 2 }, 599000);
              event('STOP', undefined, 700000);
              event('MIGRATION', { status: 'completed' }, 712000);
            }, 20);
            break;
          case 'query-migrate':
            // Reply split over two writes, as a busy QEMU may send it.
            {
              const text = JSON.stringify({
                return: { status: 'active', ram: { remaining: 4096, mbps: 8 } },
                id,
              });
              sock.write(text.slice(0, 9));
              setTimeout(() => sock.write(`${text.slice(9)}\r\n`), 5);
            }
            break;
          case 'hang':
            break; // never answered
          default:
            reply({
              error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` },
            });
        }
      }
    });
  });
  return new Promise((r) => server.listen(qemuPath, () => r()));
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'migscope-proxy-'));
  qemuPath = join(dir, 'qemu.sock');
  proxyPath = join(dir, 'proxy.sock');
  proxy = null;
  await fakeQemu();
});
afterEach(async () => {
  await proxy?.close();
  for (const c of conns) c.destroy();
  await new Promise((r) => server.close(() => r(null)));
  rmSync(dir, { recursive: true, force: true });
});

/** Connect a raw socket and collect what it receives. */
async function rawClient(path: string): Promise<{ sock: Socket; got: () => Buffer; closed: Promise<void> }> {
  const sock = connect(path);
  let got = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  return { sock, got: () => got, closed };
}

async function until(pred: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

describe('QmpProxy forwarding', () => {
  it('forwards bytes both ways unchanged, however they are chunked', async () => {
    proxy = await QmpProxy.start({ listen: proxyPath, qemu: qemuPath });
    const c = await rawClient(proxyPath);
    // The greeting arrives byte for byte as QEMU wrote it (with its \r\n).
    const greeting = Buffer.from(`${JSON.stringify(GREETING)}\r\n`);
    await until(() => c.got().length >= greeting.length);
    expect(c.got().equals(greeting)).toBe(true);
    // Client → QEMU: multi-byte UTF-8 split inside a character, CRLF, a NUL, a line with no JSON.
    const payload = Buffer.concat([
      Buffer.from('{"execute":"qmp_capabilities","id":"ü-1"}\r\n'),
      Buffer.from([0xf0, 0x9f, 0x98]),
      Buffer.from([0x80, 0x00, 0x0a]),
      Buffer.from('not json at all\n{"execute":"hang"'),
      Buffer.from(',"id":2}\n'),
    ]);
    const parts = [
      payload.subarray(0, 7),
      payload.subarray(7, 45),
      payload.subarray(45, 47),
      payload.subarray(47),
    ];
    for (const p of parts) {
      c.sock.write(p);
      await sleep(3);
    }
    await until(() => (received[0]?.length ?? 0) >= payload.length);
    expect(received[0]!.equals(payload)).toBe(true);
    // QEMU → client: the reply to qmp_capabilities, unchanged.
    const reply = Buffer.from('{"return":{},"id":"ü-1"}\r\n');
    await until(() => c.got().length >= greeting.length + reply.length);
    expect(c.got().subarray(greeting.length).equals(reply)).toBe(true);
    c.sock.end();
    await c.closed;
    const rec = await proxy.close();
    expect(rec.connections).toHaveLength(1);
    expect(rec.connections[0]!.sentBytes).toBe(payload.length);
    expect(rec.connections[0]!.receivedBytes).toBe(greeting.length + reply.length);
    // Lines: greeting, the reply, and the four client lines (the split emoji one kept as text).
    expect(rec.lines.filter((l) => l.dir === 'send').map((l) => l.line)).toEqual([
      '{"execute":"qmp_capabilities","id":"ü-1"}',
      '\u{1f600}\u0000',
      'not json at all',
      '{"execute":"hang","id":2}',
    ]);
    const { counts } = proxySpans(rec);
    expect(counts).toEqual({ lines: 6, commands: 2, unanswered: 1, events: 0, garbled: 2 });
  });

  it('records a QMP session as spans: commands send → reply, errors, events, the migration', async () => {
    proxy = await QmpProxy.start({ listen: proxyPath, qemu: qemuPath });
    const qmp = await QmpClient.connect(proxyPath, { timeoutMs: 2000 });
    expect(qmp.version).toBe('7.2.22');
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 33554432 });
    await expect(qmp.execute('no-such-command')).rejects.toBeInstanceOf(QmpError);
    await qmp.execute('migrate', { uri: 'tcp:127.0.0.1:4444' });
    const info = await qmp.execute<{ status: string }>('query-migrate');
    expect(info.status).toBe('active');
    expect(await qmp.waitEvent((e) => e.data.status === 'completed', 2000)).not.toBeNull();
    qmp.close();
    await until(() => proxy!.record.connections[0]!.closeUs !== null);
    const rec = await proxy.close();
    expect(existsSync(proxyPath)).toBe(false);
    const { spans, counts } = proxySpans(rec);
    expect(counts).toEqual({ lines: 17, commands: 5, unanswered: 0, events: 6, garbled: 0 });
    const byId = new Map(spans.map((s) => [s.id, s]));
    const root = spans.find((s) => s.parent === null)!;
    expect(root.attributes).toMatchObject({
      [ATTR.monitorCommand]: 'session',
      [ATTR.qemuVersion]: '7.2.22',
      [ATTR.monitorSide]: 'source',
    });
    const cmds = spans.filter((s) => s.name === SPAN.monitorCommand && s !== root);
    expect(cmds.map((s) => s.attributes[ATTR.monitorCommand])).toEqual([
      'qmp_capabilities',
      'migrate-set-parameters',
      'no-such-command',
      'migrate',
      'query-migrate',
    ]);
    for (const c of cmds) {
      expect(c.parent).toBe(root.id);
      expect(c.endUs).toBeGreaterThanOrEqual(c.startUs);
      expect(c.attributes[ATTR.inferred]).toBeUndefined();
    }
    // The client's exchanges and the proxy's spans agree on order and bracket each other in time.
    cmds.forEach((c, i) => {
      const x = qmp.exchanges[i]!;
      expect(x.command).toBe(c.attributes[ATTR.monitorCommand]);
      expect(c.startUs).toBeGreaterThanOrEqual(x.sentUs);
      expect(c.endUs).toBeLessThanOrEqual(x.receivedUs!);
    });
    expect(cmds[1]!.attributes[ATTR.maxBandwidth]).toBe(33554432);
    expect(cmds[2]!.attributes).toMatchObject({
      [ATTR.monitorOk]: false,
      [ATTR.monitorError]: 'CommandNotFound: The command no-such-command has not been found',
    });
    expect(cmds[4]!.attributes).toMatchObject({
      [ATTR.pendingBytes]: 4096,
      [ATTR.bandwidthEstimate]: 1_000_000,
      [ATTR.state]: 'active',
    });
    // The split reply was matched once it was whole.
    expect(cmds[4]!.endUs - cmds[4]!.startUs).toBeGreaterThanOrEqual(4000);
    // Events with QEMU's own timestamps.
    expect(root.events.map((e) => [e.name, e.tUs])).toEqual([
      [EVENT.migrationState, T0 * 1e6 + 189850],
      [EVENT.migrationPass, T0 * 1e6 + 194402],
      [EVENT.migrationState, T0 * 1e6 + 194917],
      [EVENT.migrationPass, T0 * 1e6 + 599000],
      [EVENT.stop, T0 * 1e6 + 700000],
      [EVENT.migrationState, T0 * 1e6 + 712000],
    ]);
    // The migration QEMU announced: setup → completed, one pass per MIGRATION_PASS, linked to `migrate`.
    const mig = spans.find((s) => s.name === SPAN.migration)!;
    expect(mig.parent).toBe(root.id);
    expect([mig.startUs, mig.endUs]).toEqual([T0 * 1e6 + 189850, T0 * 1e6 + 712000]);
    expect(mig.attributes[ATTR.outcome]).toBe('completed');
    expect(mig.links).toEqual([cmds[3]!.id]);
    const passes = spans.filter((s) => s.parent === mig.id);
    expect(passes.map((p) => [p.name, p.attributes[ATTR.pass], p.startUs, p.endUs])).toEqual([
      [SPAN.pass, 1, T0 * 1e6 + 194402, T0 * 1e6 + 599000],
      [SPAN.pass, 2, T0 * 1e6 + 599000, T0 * 1e6 + 712000],
    ]);
    expect(byId.get(mig.links[0]!)!.attributes[ATTR.uri]).toBe('tcp:127.0.0.1:4444');
    // As one OpenTelemetry trace: one traceId, the link kept.
    const { readable } = mergeTrace({ proxies: [rec] });
    expect(readable).toHaveLength(spans.length);
    expect(new Set(readable.map((s) => s.spanContext().traceId)).size).toBe(1);
    const otelMig = readable.find((s) => s.name === SPAN.migration)!;
    expect(otelMig.links).toHaveLength(1);
    expect(
      readable.find((s) => s.spanContext().spanId === otelMig.links[0]!.context.spanId)!.attributes[
        ATTR.monitorCommand
      ],
    ).toBe('migrate');
  });

  it('ends unanswered commands at the session end and keeps serving new connections', async () => {
    proxy = await QmpProxy.start({ listen: proxyPath, qemu: qemuPath, side: 'destination' });
    const a = await QmpClient.connect(proxyPath, { timeoutMs: 2000 });
    const hung = a.execute('hang').catch((e: Error) => e);
    await until(() => received[0]!.includes('hang'));
    a.close();
    expect(await hung).toBeInstanceOf(Error);
    const b = await QmpClient.connect(proxyPath, { timeoutMs: 2000 });
    b.close();
    await until(() => proxy!.record.connections.every((c) => c.closeUs !== null));
    const rec = await proxy.close();
    expect(rec.connections.map((c) => c.conn)).toEqual([1, 2]);
    const { spans, counts } = proxySpans(rec);
    expect(counts.unanswered).toBe(1);
    const roots = spans.filter((s) => s.parent === null);
    expect(roots).toHaveLength(2);
    expect(roots.every((r) => r.attributes[ATTR.monitorSide] === 'destination')).toBe(true);
    const hang = spans.find((s) => s.attributes[ATTR.monitorCommand] === 'hang')!;
    expect(hang.attributes[ATTR.monitorReply]).toBe('none');
    expect(hang.endUs).toBe(rec.connections[0]!.closeUs);
  });

  it('closes the client when QEMU is not there, and records why', async () => {
    proxy = await QmpProxy.start({ listen: proxyPath, qemu: join(dir, 'missing.sock') });
    const c = await rawClient(proxyPath);
    await c.closed;
    const rec = await proxy.close();
    expect(rec.connections).toHaveLength(1);
    expect(rec.connections[0]!.error).toMatch(/ENOENT/);
    expect(rec.lines).toEqual([]);
    expect(proxySpans(rec).spans[0]!.attributes['monitor.connection_error']).toMatch(/ENOENT/);
  });

  it('replaces a stale socket file but refuses to replace a regular file', async () => {
    const first = await QmpProxy.start({ listen: proxyPath, qemu: qemuPath });
    // Simulate a crashed proxy: the socket file stays behind once the server stops listening.
    await new Promise((r) => (first as unknown as { server: Server }).server.close(() => r(null)));
    proxy = await QmpProxy.start({ listen: proxyPath, qemu: qemuPath });
    const q = await QmpClient.connect(proxyPath, { timeoutMs: 2000 });
    q.close();
    const file = join(dir, 'plain');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'x');
    await expect(QmpProxy.start({ listen: file, qemu: qemuPath })).rejects.toThrow(/not a socket/);
  });
});
