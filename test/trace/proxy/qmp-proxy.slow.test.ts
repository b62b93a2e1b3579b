/**
 * A real QEMU 7.2 live migration with the source's monitor behind the recording proxy: two bare paused
 * TCG QEMUs (no guest needed), `migrate` over loopback through the proxy, then the record merged with the
 * source's trace-event log. Slow (two QEMUs). In CI (CI=true) a missing QEMU fails; elsewhere it skips.
 * Install with: bash test/setup/install-qemu.sh
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceLog } from '../../../trace/import/qemu-trace-events.ts';
import { QemuProcess } from '../../../trace/lab/qemu-process.ts';
import { QmpClient } from '../../../trace/lab/qmp.ts';
import { mergeTrace } from '../../../trace/merge.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';
import { QmpProxy } from '../../../trace/proxy/qmp-proxy.ts';
import { proxySpans } from '../../../trace/proxy/spans.ts';

const QEMU = 'qemu-system-x86_64';
const hasQemu = spawnSync('sh', ['-c', `command -v ${QEMU}`]).status === 0;
const CI = process.env.CI === 'true';
const run = CI || hasQemu ? describe : describe.skip;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
    await sleep(20);
  }
}

run('QMP proxy in front of a real QEMU migration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'migscope-proxy-slow-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards a whole migration unchanged and records it as spans', async () => {
    expect(hasQemu, `${QEMU} is not installed (bash test/setup/install-qemu.sh)`).toBe(true);
    const events = join(dir, 'trace-events.txt');
    writeFileSync(
      events,
      [
        'migrate_set_state',
        'migrate_pending',
        'migrate_transferred',
        'migration_bitmap_sync_*',
        'migration_thread_*',
        'savevm_state_*',
        'migration_completion_*',
      ].join('\n'),
    );
    const common = (role: string) => [
      '-accel',
      'tcg',
      '-machine',
      'pc',
      '-m',
      '65544K',
      '-display',
      'none',
      '-nodefaults',
      '-no-user-config',
      '-S',
      '-qmp',
      `unix:${join(dir, `${role}.qmp`)},server=on,wait=off`,
      '-trace',
      `events=${events},file=${join(dir, `${role}-trace.log`)}`,
      '-msg',
      'timestamp=on',
    ];
    const port = await freePort();
    const dst = new QemuProcess(
      'destination',
      QEMU,
      [...common('destination'), '-incoming', 'defer'],
      join(dir, 'dst.log'),
    );
    const src = new QemuProcess('source', QEMU, common('source'), join(dir, 'src.log'));
    const proxySock = join(dir, 'proxy.sock');
    let proxy: QmpProxy | null = null;
    let qmp: QmpClient | null = null;
    let dstQmp: QmpClient | null = null;
    try {
      // The destination listens before the source is told to migrate (as libvirt's Prepare3 does).
      dstQmp = await QmpClient.connect(join(dir, 'destination.qmp'), {
        timeoutMs: 15_000,
        alive: () => dst.alive,
      });
      await dstQmp.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${port}` });
      await waitFor(join(dir, 'source.qmp'), 15_000);
      proxy = await QmpProxy.start({ listen: proxySock, qemu: join(dir, 'source.qmp') });
      qmp = await QmpClient.connect(proxySock, { timeoutMs: 15_000 });
      expect(qmp.version).toMatch(/^\d+\.\d+\.\d+$/);
      await qmp.execute('migrate-set-capabilities', {
        capabilities: [{ capability: 'events', state: true }],
      });
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 256 * 1048576 });
      await qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
      let info: { status?: string; 'error-desc'?: string } = {};
      const end = Date.now() + 60_000;
      while (!['completed', 'failed', 'cancelled'].includes(info.status ?? '') && Date.now() < end) {
        info = await qmp.execute<typeof info>('query-migrate');
        await sleep(50);
      }
      expect(info.status, info['error-desc']).toBe('completed');
      await qmp.execute('quit').catch(() => {});
      qmp.close();
      await src.stop(5000);
      dst.kill('SIGTERM');
      await dst.stop(5000);
      const rec = await proxy.close();
      proxy = null;

      // Unchanged forwarding: what the client sent and read, line for line and in order each way, is what
      // the proxy saw (the interleaving of the two directions depends on who looked first).
      for (const dir of ['send', 'recv'] as const)
        expect(rec.lines.filter((l) => l.dir === dir).map((l) => l.line)).toEqual(
          qmp.transcript.filter((l) => l.dir === dir).map((l) => l.line),
        );
      expect(rec.connections[0]!.error).toBeNull();

      const { spans, counts } = proxySpans(rec);
      expect(counts.unanswered).toBe(0);
      expect(counts.garbled).toBe(0);
      expect(counts.commands).toBe(qmp.exchanges.length);
      const mig = spans.find((s) => s.name === SPAN.migration)!;
      expect(mig.attributes[ATTR.outcome]).toBe('completed');
      expect(spans.filter((s) => s.parent === mig.id && s.name === SPAN.pass).length).toBeGreaterThanOrEqual(
        1,
      );

      // Merged with the source trace-event log: one trace, QEMU's finer spans under the session, linked.
      const log = parseTraceLog(readFileSync(join(dir, 'source-trace.log'), 'utf8'));
      expect(log.records.length).toBeGreaterThan(5);
      const merged = mergeTrace({ proxies: [rec], qemu: [{ role: 'source', log }] });
      expect(new Set(merged.readable.map((s) => s.spanContext().traceId)).size).toBe(1);
      const roots = merged.spans.filter((s) => s.parent === null);
      expect(roots).toHaveLength(1);
      const migrations = merged.spans.filter((s) => s.name === SPAN.migration);
      expect(migrations).toHaveLength(1);
      expect(migrations[0]!.attributes[ATTR.traceSource]).toBe('qemu-trace');
      expect(migrations[0]!.parent).toBe(roots[0]!.id);
      const migrate = merged.spans.find((s) => s.attributes[ATTR.monitorCommand] === 'migrate')!;
      expect(migrations[0]!.links).toEqual([migrate.id]);
      // Same host clock: QEMU's setup state follows the migrate command's send.
      expect(migrations[0]!.startUs).toBeGreaterThanOrEqual(migrate.startUs - 1000);
      expect(merged.spans.some((s) => s.parent === migrations[0]!.id && s.name === SPAN.dirtySync)).toBe(
        true,
      );
    } finally {
      qmp?.close();
      dstQmp?.close();
      await proxy?.close();
      src.kill('SIGKILL');
      dst.kill('SIGKILL');
      await Promise.all([src.exited, dst.exited]);
    }
  }, 120_000);
});
