/** libvirt 9.0 in front of QEMU 7.2 (qemu-spec.md §4.3, §5), as spans. */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { SIM_EPOCH_S } from '../../../sim/span-recorder.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';
import { run, scenario } from './helpers.ts';

const ms = (t: [number, number]) => (t[0] - SIM_EPOCH_S) * 1000 + t[1] / 1e6;

describe('qemu-7.2 under libvirt 9.0', () => {
  const s = scenario({
    vm: { memoryMiB: 32 },
    workload: { kind: 'zipf', wssMiB: 8, dirtyRateMiBps: 8 },
    host: { monitorRttUs: 400 },
    libvirt: { rpcOverheadMs: 2 },
  });
  const { result: r, spans } = run(s, 'stage');
  const byName = (n: string) => spans.filter((x) => x.name === n);
  const one = (n: string): ReadableSpan => {
    const found = byName(n);
    expect(found.length, n).toBe(1);
    return found[0]!;
  };
  const qmp = (cmd: string) =>
    spans.filter((x) => x.name === SPAN.monitorCommand && x.attributes[ATTR.monitorCommand] === cmd);

  it('runs the v3 protocol in order: Begin3, Prepare3, Perform3, Finish3, Confirm3', () => {
    expect(r.outcome).toBe('completed');
    const phases = [SPAN.begin3, SPAN.prepare3, SPAN.perform3, SPAN.finish3, SPAN.confirm3].map(one);
    for (let i = 1; i < phases.length; i++)
      expect(ms(phases[i]!.startTime as [number, number])).toBeGreaterThanOrEqual(
        ms(phases[i - 1]!.endTime as [number, number]),
      );
    expect(phases.map((p) => p.attributes[ATTR.rpcProc])).toEqual([302, 303, 305, 306, 307]);
    // The destination QEMU starts inside Prepare3.
    expect(
      one(SPAN.qemuProcessStart).duration[0] * 1000 + one(SPAN.qemuProcessStart).duration[1] / 1e6,
    ).toBeCloseTo(s.host.qemuStartMs, 6);
  });

  it('hands QEMU an fd and waits on events: getfd, migrate fd:, no polling', () => {
    expect(qmp('getfd').length).toBe(1);
    expect(qmp('migrate').length).toBe(1);
    expect(one(SPAN.migration).attributes[ATTR.uri]).toBe('fd:migrate');
    expect(qmp('query-migrate').length).toBe(1); // once, for the final statistics
    expect(one(SPAN.migration).attributes[ATTR.maxBandwidth]).toBe(0); // unlimited
  });

  it('continues from pre-switchover inside the downtime and runs the guest with cont in Finish3', () => {
    const wait = one(SPAN.preSwitchoverWait);
    // Event to libvirt (half a monitor round trip), migrate-continue to QEMU (another half).
    expect(ms(wait.endTime as [number, number]) - ms(wait.startTime as [number, number])).toBeCloseTo(0.4, 6);
    expect(qmp('migrate-continue').length).toBe(1);
    const cont = qmp('cont');
    expect(cont.length).toBe(1);
    const fin = one(SPAN.finish3);
    expect(ms(cont[0]!.startTime as [number, number])).toBeGreaterThan(ms(fin.startTime as [number, number]));
    // The downtime span runs from the stop to the destination's cont; it covers QEMU's own downtime.
    const down = one(SPAN.downtime);
    expect(ms(down.startTime as [number, number])).toBeLessThanOrEqual(
      ms(wait.startTime as [number, number]),
    );
    expect(r.downtimeMs!).toBeCloseTo(
      ms(down.endTime as [number, number]) - ms(down.startTime as [number, number]),
      6,
    );
    expect(r.downtimeMs!).toBeGreaterThan((r.extra.qemuDowntimeMs as number) - 1);
    expect(r.downtimeBreakdown.managementMs!).toBeGreaterThanOrEqual(0.4);
  });

  it('cancels with migrate_cancel at the timeout', () => {
    const t = run(
      scenario({
        vm: { memoryMiB: 32 },
        workload: { kind: 'uniform', wssMiB: 16, dirtyRateMiBps: 64 },
        migration: { maxBandwidthMiBps: 16, timeoutS: 3 },
      }),
      'stage',
    );
    expect(t.result.outcome).toBe('timeout');
    expect(t.spans.filter((x) => x.attributes[ATTR.monitorCommand] === 'migrate_cancel').length).toBe(1);
    expect(t.spans.filter((x) => x.attributes[ATTR.monitorCommand] === 'migrate-continue').length).toBe(0);
    expect(t.result.downtimeMs).toBeNull();
  });
});
