/**
 * trace/libvirt-lab/trace.ts and the log readers of run.ts on logs recorded by a real run (fixtures/):
 * the span tree virsh → libvirt API → phases → qemu driver → monitor → qemu.migration, and the two
 * corrections for real daemon logs (one phase per API call, phases bounded by the client's RPC reply).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlainSpan } from '../../../trace/import/plain-spans.ts';
import { parseJobInfo, qemuFigures } from '../../../trace/libvirt-lab/run.ts';
import { buildLabTrace, daemonLogWindow, LAB_ATTR, readClientLog } from '../../../trace/libvirt-lab/trace.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';

const DIR = join(import.meta.dirname, 'fixtures');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const run = JSON.parse(read('run.json')) as {
  virsh: { startUs: number; endUs: number; argv: string[]; exitCode: number };
  job: { destination: Record<string, number | string> };
  qemu: { downtimeMs: number; totalTimeMs: number };
};
const input = {
  sourceLog: read('libvirtd-source.log'),
  destinationLog: read('libvirtd-destination.log'),
  clientLog: read('virsh.log'),
  qemuSourceLog: read('qemu-source-trace.log'),
  qemuDestinationLog: read('qemu-destination-trace.log'),
  virsh: { ...run.virsh, pid: 4242 },
};

describe('libvirt lab trace (recorded logs)', () => {
  const t = buildLabTrace(input);
  const kids = (p: PlainSpan, name?: string) =>
    t.spans
      .filter((s) => s.parent === p.id && (name === undefined || s.name === name))
      .sort((a, b) => a.startUs - b.startUs);
  const one = (p: PlainSpan, name: string) => {
    const k = kids(p, name);
    expect(k, `${p.name} > ${name}`).toHaveLength(1);
    return k[0]!;
  };
  const cmds = (p: PlainSpan, c: string) =>
    kids(p, SPAN.monitorCommand).filter((s) => s.attributes[ATTR.monitorCommand] === c);

  it('reads the client log: both SASL connections and the five RPC round trips', () => {
    const c = readClientLog(input.clientLog);
    expect(c.connects.map((x) => [x.uri, x.mech])).toEqual([
      ['qemu+tcp://127.0.0.1:16509/system', 'DIGEST-MD5'],
      ['qemu+tcp://10.200.0.2:16509/system', 'DIGEST-MD5'],
    ]);
    const phases = c.rpcs.filter((r) => r.proc >= 302 && r.proc <= 307);
    expect(phases.map((r) => r.proc)).toEqual([302, 303, 305, 306, 307]);
    for (const r of phases) {
      expect(r.status).toBe(0);
      expect(r.rxUs).toBeGreaterThanOrEqual(r.txUs);
    }
    expect(c.migrate3?.fn).toBe('virDomainMigrate3');
    expect(c.version3Full?.fn).toBe('virDomainMigrateVersion3Full');
  });

  it('opens one phase per API call although libvirt logs its parameters as more lines of it', () => {
    const log = daemonLogWindow(input.sourceLog, 'source', run.virsh.startUs, run.virsh.endUs);
    const begins = log.entries.filter((e) => e.fn === 'virDomainMigrateBegin3Params');
    expect(begins).toHaveLength(1);
    expect(begins[0]!.msg).toMatch(/^dom=/);
    expect(input.sourceLog.match(/virDomainMigrateBegin3Params:\d+ : params\[/g)?.length).toBeGreaterThan(0);
  });

  it('builds virsh → API → Begin3..Confirm3 → driver → monitor → qemu.migration → passes', () => {
    expect(t.notes).toEqual([]);
    const roots = t.spans.filter((s) => s.parent === null);
    expect(roots.map((s) => s.name)).toEqual([SPAN.virshMigrate]);
    const virsh = roots[0]!;
    expect(virsh.startUs).toBe(run.virsh.startUs);
    expect(virsh.attributes[ATTR.virshFlags]).toBe('--live --bandwidth --xml');
    const v3 = one(one(virsh, SPAN.virDomainMigrate3), SPAN.virDomainMigrateVersion3);
    expect(v3.attributes[ATTR.inferred]).toBeUndefined();
    const names = [SPAN.begin3, SPAN.prepare3, SPAN.perform3, SPAN.finish3, SPAN.confirm3];
    const phases = kids(v3).filter((s) => (names as string[]).includes(s.name));
    expect(phases.map((s) => s.name)).toEqual(names);
    const client = readClientLog(input.clientLog).rpcs.filter((r) => r.proc >= 302 && r.proc <= 307);
    phases.forEach((p, i) => {
      // Each phase is the client's round trip; the daemon's own start is kept as an attribute.
      expect(p.startUs).toBe(client[i]!.txUs);
      expect(p.endUs).toBe(client[i]!.rxUs);
      expect(p.attributes[LAB_ATTR.daemonStartUs]).toBeGreaterThanOrEqual(p.startUs);
      for (const k of kids(p)) expect(k.endUs).toBeLessThanOrEqual(p.endUs);
    });
    const [begin, prepare, perform, finish, confirm] = phases as [
      PlainSpan,
      PlainSpan,
      PlainSpan,
      PlainSpan,
      PlainSpan,
    ];
    one(begin, SPAN.qemuMigrationSrcBegin);
    const prep = one(prepare, SPAN.qemuMigrationDstPrepare);
    one(prep, SPAN.qemuProcessStart);
    expect(cmds(prep, 'migrate-incoming')).toHaveLength(1);
    const runSpan = one(one(perform, SPAN.qemuMigrationSrcPerform), SPAN.qemuMigrationSrcRun);
    const migrate = cmds(runSpan, 'migrate');
    expect(migrate.map((m) => m.attributes[ATTR.uri])).toEqual(['fd:migrate']);
    expect(cmds(runSpan, 'getfd')).toHaveLength(1);
    const wait = one(runSpan, SPAN.qemuMigrationSrcWaitForCompletion);
    expect(cmds(wait, 'migrate-continue')).toHaveLength(1);
    const mig = one(runSpan, SPAN.migration);
    expect(mig.links).toContain(migrate[0]!.id);
    expect(mig.attributes[ATTR.outcome]).toBe('completed');
    expect(kids(mig, SPAN.pass).length).toBe(run.job.destination.Iteration);
    expect(kids(mig, SPAN.complete)).toHaveLength(1);
    expect(cmds(one(finish, SPAN.qemuMigrationDstFinish), 'cont')).toHaveLength(1);
    // Confirm3 lasts until the source QEMU has exited (libvirt polls every 200 ms after SIGTERM).
    const conf = one(confirm, SPAN.qemuMigrationSrcConfirm);
    expect(conf.endUs).toBe(confirm.endUs);
    expect(t.readable).toHaveLength(t.spans.length);
    expect(new Set(t.readable.map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  it('reads the job statistics and QEMU figures the run reports', () => {
    expect(parseJobInfo('Job type:         Completed   \nTotal downtime:   44           ms\n')).toEqual({
      'Job type': 'Completed',
      'Total downtime': 44,
    });
    const f = qemuFigures(input.sourceLog, input.destinationLog, run.virsh.startUs);
    expect(f.qemu.downtimeMs).toBe(run.qemu.downtimeMs);
    expect(f.qemu.totalTimeMs).toBe(run.qemu.totalTimeMs);
    expect(f.qemu.raced).toBe(false);
    expect(f.stopUs).not.toBeNull();
    expect(f.resumeUs! - f.stopUs!).toBeGreaterThan(0);
  });

  it('does not take the figures of a query-migrate that raced QEMU 7.2 for measurements', () => {
    const f = qemuFigures(read('raced-reply.log'), '', 0);
    expect(f.qemu.raced).toBe(true);
    expect(f.qemu.downtimeMs).toBeNull();
    expect(f.qemu.totalTimeMs).toBeNull();
    expect(f.qemu.dirtySyncCount).toBe(3);
  });
});
