/** trace/lab/qmp.ts against a scripted QMP server on a unix socket (no QEMU needed). */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QmpClient, QmpClosedError, QmpError } from '../../../trace/lab/qmp.ts';

const GREETING = {
  QMP: { version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian' }, capabilities: ['oob'] },
};

let dir: string;
let path: string;
let server: Server;
let conns: Socket[];

/** A fake QEMU: answers per command; `emit` sends an event first, `die` closes without a reply. */
function fakeQemu(delayGreetingMs = 0): Promise<void> {
  conns = [];
  server = createServer((sock) => {
    conns.push(sock);
    const send = (m: object) => sock.write(`${JSON.stringify(m)}\r\n`);
    setTimeout(() => send(GREETING), delayGreetingMs);
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const id = msg.id;
        switch (msg.execute) {
          case 'qmp_capabilities':
            send({ return: {}, id });
            break;
          case 'emit':
            send({
              timestamp: { seconds: 1795790930, microseconds: 719893 },
              event: 'MIGRATION',
              data: { status: 'setup' },
            });
            send({ return: {}, id });
            break;
          case 'die':
            sock.destroy();
            break;
          case 'query-migrate':
            // Reply split over two writes: the client must reassemble lines.
            sock.write(
              JSON.stringify({ return: { status: 'active', ram: { transferred: 5 } }, id }).slice(0, 10),
            );
            setTimeout(
              () =>
                sock.write(
                  `${JSON.stringify({ return: { status: 'active', ram: { transferred: 5 } }, id }).slice(10)}\r\n`,
                ),
              5,
            );
            break;
          default:
            send({
              error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` },
              id,
            });
        }
      }
    });
  });
  return new Promise((r) => server.listen(path, () => r()));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'migscope-qmp-'));
  path = join(dir, 'qmp.sock');
});
afterEach(async () => {
  for (const c of conns ?? []) c.destroy();
  await new Promise((r) => (server ? server.close(() => r(null)) : r(null)));
  rmSync(dir, { recursive: true, force: true });
});

describe('QmpClient', () => {
  it('negotiates, runs commands, and records the transcript', async () => {
    await fakeQemu();
    const q = await QmpClient.connect(path);
    expect(q.version).toBe('7.2.22');
    const info = await q.execute<{ status: string }>('query-migrate');
    expect(info).toEqual({ status: 'active', ram: { transferred: 5 } });
    expect(q.exchanges.map((x) => [x.command, x.ok])).toEqual([
      ['qmp_capabilities', true],
      ['query-migrate', true],
    ]);
    const x = q.exchanges[1]!;
    expect(x.receivedUs!).toBeGreaterThanOrEqual(x.sentUs);
    expect(q.transcript.filter((l) => l.dir === 'send')).toHaveLength(2);
    q.close();
  });

  it('waits for the socket while QEMU starts up', async () => {
    const connecting = QmpClient.connect(path, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await fakeQemu(50);
    const q = await connecting;
    expect(q.version).toBe('7.2.22');
    q.close();
  });

  it('gives up when the process is gone', async () => {
    await expect(QmpClient.connect(path, { timeoutMs: 5000, alive: () => false })).rejects.toThrow(/ENOENT/);
  });

  it('turns QMP errors into QmpError with class and description', async () => {
    await fakeQemu();
    const q = await QmpClient.connect(path);
    const err = (await q.execute('nope', { a: 1 }).catch((e: unknown) => e)) as QmpError;
    expect(err).toBeInstanceOf(QmpError);
    expect(err.errorClass).toBe('CommandNotFound');
    expect(err.message).toBe('QMP nope: CommandNotFound: The command nope has not been found');
    expect(q.exchanges[1]!.ok).toBe(false);
    q.close();
  });

  it('keeps events with QEMU timestamps and lets callers wait for them', async () => {
    await fakeQemu();
    const q = await QmpClient.connect(path);
    const seen: string[] = [];
    q.onEvent((e) => seen.push(e.event));
    await q.execute('emit');
    expect(q.events).toHaveLength(1);
    expect(q.events[0]!.tUs).toBe(1795790930719893);
    expect(q.events[0]!.data).toEqual({ status: 'setup' });
    expect(seen).toEqual(['MIGRATION']);
    expect(await q.waitEvent((e) => e.event === 'MIGRATION', 10)).toBe(q.events[0]);
    expect(await q.waitEvent((e) => e.event === 'STOP', 20)).toBeNull();
    q.close();
  });

  it('rejects pending and later commands with QmpClosedError when QEMU goes away', async () => {
    await fakeQemu();
    const q = await QmpClient.connect(path);
    await expect(q.execute('die')).rejects.toBeInstanceOf(QmpClosedError);
    await q.whenClosed();
    expect(q.closed).toBe(true);
    await expect(q.execute('query-migrate')).rejects.toBeInstanceOf(QmpClosedError);
  });
});
