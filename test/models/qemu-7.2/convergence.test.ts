/**
 * Convergence in 7.2 (qemu-spec.md §3.4, §3.6): a guest dirtying faster than the bandwidth never gets its
 * pending estimate under bandwidth × downtime-limit; auto-converge throttles it 20 %, then +10 % per step,
 * a step on every second period (> 1 s) that dirtied more than half of what was sent.
 */
import { describe, expect, it } from 'vitest';
import { SIM_EPOCH_S } from '../../../sim/span-recorder.ts';
import { EVENT } from '../../../trace/names.ts';
import { run, scenario } from './helpers.ts';

// 32 MiB/s of writes over a 32 MiB working set against 16 MiB/s of bandwidth; the workload is CPU-bound
// (cpuShare 1), so a throttle of T % slows its writes to (1 − T) of the rate.
const raw = (capabilities: string[]) => ({
  vm: { memoryMiB: 64 },
  libvirt: { enabled: false },
  workload: { kind: 'uniform', wssMiB: 32, dirtyRateMiBps: 32, cpuShare: 1 },
  migration: { timeoutS: 40, maxBandwidthMiBps: 16, capabilities },
});

describe('qemu-7.2 convergence', () => {
  it('does not converge without auto-converge: cancelled at the timeout', () => {
    const r = run(scenario(raw([]))).result;
    expect(r.outcome).toBe('timeout');
    expect(r.converged).toBe(false);
    expect(r.totalTimeMs).toBeGreaterThanOrEqual(40_000);
    expect(r.totalTimeMs).toBeLessThan(40_100);
    expect(r.extra.throttleSteps).toBe(0);
    expect(r.downtimeMs).toBeNull();
    // Every sync after the first left more than the threshold pending (else it would have completed).
    const rem = r.iterations.at(-2)!;
    expect(rem.remainingPages * 4096).toBeGreaterThan(((16 * 1024 * 1024) / 1000) * 300 * 0.9);
  });

  it('converges with auto-converge, the throttle stepping 20, 30, 40, ...', () => {
    const { result: r, spans } = run(scenario(raw(['auto-converge'])), 'stage');
    expect(r.outcome).toBe('completed');
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
    const steps = String(r.extra.throttleHistory).split(',').map(Number);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (const [i, pct] of steps.entries()) expect(pct).toBe(20 + 10 * i);
    expect(r.extra.throttleFinalPct).toBe(steps.at(-1));
    // A step needs two periods of more than a second each, so the first comes after 2 s at the earliest,
    // and two steps are at least two periods apart.
    const mig = spans.find((s) => s.name === 'qemu.migration')!;
    const t0 = mig.startTime[0] - SIM_EPOCH_S + mig.startTime[1] / 1e9;
    const times = mig.events
      .filter((e) => e.name === EVENT.throttleStep)
      .map((e) => (e.time as [number, number])[0] - SIM_EPOCH_S + (e.time as [number, number])[1] / 1e9 - t0);
    expect(times.length).toBe(steps.length);
    expect(times[0]!).toBeGreaterThan(2);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(2);
  });

  it('a throttle the workload does not feel (cpuShare below 1 − T) does not help', () => {
    // At cpuShare 0.2 a throttle up to 80 % leaves the writes at full rate; the timeout comes first.
    const s = scenario({
      ...raw(['auto-converge']),
      migration: { timeoutS: 12, maxBandwidthMiBps: 16, capabilities: ['auto-converge'] },
    });
    s.workload.cpuShare = 0.2;
    const r = run(s).result;
    expect(r.outcome).toBe('timeout');
    expect(r.extra.throttleSteps).toBeGreaterThan(0);
    expect(r.extra.throttleFinalPct).toBeLessThanOrEqual(80);
    // Full-rate writes for the whole run: 32 MiB/s × 12 s of pages.
    expect(r.extra.guestPageWrites).toBeGreaterThan(32 * 256 * 12 * 0.98);
  });
});
