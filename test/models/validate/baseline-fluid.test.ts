import { describe, expect, it } from 'vitest';
import { fluidInputFor, fluidMigration } from '../../../models/validate/baseline-fluid.ts';
import { labScenario } from './helpers.ts';

const MIB = 1024 * 1024;

describe('fluidMigration (hand-computed)', () => {
  it('sends RAM, then what each round dirtied, and stops once it fits in bandwidth × downtime limit', () => {
    // 100 MiB at 10 MiB/s: stage 1 takes 10 s and the guest dirties min(2 × 10, 50) = 20 MiB > 3 MiB
    // (10 MiB/s × 300 ms); round 2 sends 20 MiB in 2 s (4 MiB dirtied > 3); round 3 sends 4 MiB in 0.4 s
    // (0.8 MiB dirtied ≤ 3): stop and copy 0.8 MiB in 80 ms.
    const r = fluidMigration({
      stage1Bytes: 100 * MIB,
      bandwidthBps: 10 * MIB,
      dirtyRateBps: 2 * MIB,
      workingSetBytes: 50 * MIB,
      downtimeLimitMs: 300,
      timeoutS: 600,
    });
    expect(r.outcome).toBe('completed');
    expect(r.totalTimeMs).toBeCloseTo(12_480, 6);
    expect(r.downtimeMs).toBeCloseTo(80, 6);
    expect(r.bytes / MIB).toBeCloseTo(124.8, 6);
    // syncs: setup, after stage 1, after each of the 2 stage-2 rounds, completion
    expect(r.iterations).toBe(5);
    expect(r.rounds.map((x) => x.stage)).toEqual([1, 2, 2, 3]);
    expect(r.rounds.map((x) => Number((x.bytes / MIB).toFixed(6)))).toEqual([100, 20, 4, 0.8]);
  });

  it('caps the dirtied bytes at the working set and adds setup and switchover costs', () => {
    // 64 MiB at 32 MiB/s after 100 ms setup: 2 s, dirtied min(16 × 2, 16) = 16 > 9.6 → 0.5 s, dirtied
    // 16 × 0.5 = 8 ≤ 9.6: stop and copy 8 MiB in 250 ms, plus 5 ms switchover.
    const r = fluidMigration({
      stage1Bytes: 64 * MIB,
      bandwidthBps: 32 * MIB,
      dirtyRateBps: 16 * MIB,
      workingSetBytes: 16 * MIB,
      downtimeLimitMs: 300,
      timeoutS: 600,
      setupMs: 100,
      switchoverMs: 5,
    });
    expect(r.totalTimeMs).toBeCloseTo(100 + 2000 + 500 + 250 + 5, 6);
    expect(r.downtimeMs).toBeCloseTo(255, 6);
    expect(r.bytes / MIB).toBeCloseTo(64 + 16 + 8, 6);
    expect(r.iterations).toBe(4);
  });

  it('an idle guest needs one pass and a zero-byte switchover', () => {
    const r = fluidMigration({
      stage1Bytes: 10 * MIB,
      bandwidthBps: 10 * MIB,
      dirtyRateBps: 0,
      workingSetBytes: 0,
      downtimeLimitMs: 300,
      timeoutS: 60,
    });
    expect(r).toMatchObject({
      outcome: 'completed',
      totalTimeMs: 1000,
      downtimeMs: 0,
      bytes: 10 * MIB,
      iterations: 3,
    });
  });

  it('times out when the working set never fits, with the bytes sent by then', () => {
    // 20 MiB/s dirtied over a 40 MiB working set at 10 MiB/s: each round dirties 40 MiB ≥ 3 MiB, forever.
    const r = fluidMigration({
      stage1Bytes: 40 * MIB,
      bandwidthBps: 10 * MIB,
      dirtyRateBps: 20 * MIB,
      workingSetBytes: 40 * MIB,
      downtimeLimitMs: 300,
      timeoutS: 10,
    });
    expect(r.outcome).toBe('timeout');
    expect(r.totalTimeMs).toBe(10_000);
    expect(r.downtimeMs).toBeNull();
    expect(r.bytes / MIB).toBeCloseTo(100, 6);
  });

  it('rejects a zero bandwidth', () => {
    expect(() =>
      fluidMigration({
        stage1Bytes: 1,
        bandwidthBps: 0,
        dirtyRateBps: 0,
        workingSetBytes: 0,
        downtimeLimitMs: 1,
        timeoutS: 1,
      }),
    ).toThrow(/bandwidthBps must be > 0 \(got 0\)/);
  });
});

describe('fluidInputFor', () => {
  const host = {
    linkBps: 400 * MIB,
    firstPassBytes: () => 90 * MIB,
    rateFactor: 0.5,
    setupMs: 120,
    switchoverMs: 3,
  };
  it('takes the lower of max-bandwidth and the link, the real dirtying rate and the working set', () => {
    const i = fluidInputFor(labScenario('x'), host);
    expect(i.bandwidthBps).toBe(64 * MIB);
    expect(i.dirtyRateBps).toBeCloseTo(4 * MIB * (4104 / 4096), 6);
    expect(i.workingSetBytes).toBeCloseTo(32 * MIB * (4104 / 4096), 6);
    expect(i).toMatchObject({
      stage1Bytes: 90 * MIB,
      downtimeLimitMs: 300,
      timeoutS: 60,
      setupMs: 120,
      switchoverMs: 3,
    });
  });
  it('uses the link when max-bandwidth is unlimited, and adds the whole disk for block migration', () => {
    const s = labScenario('b', {
      migration: { maxBandwidthMiBps: 0 },
      disk: { sizeMiB: 64, allocatedMiB: 16, migrate: true },
      workload: { kind: 'idle' },
    });
    const i = fluidInputFor(s, host);
    expect(i.bandwidthBps).toBe(400 * MIB);
    expect(i.stage1Bytes).toBe(90 * MIB + 64 * MIB);
    expect(i.stage1BlockBytes).toBe(64 * MIB);
    const r = fluidMigration(i);
    expect(r.blockBytes).toBe(64 * MIB);
    expect(r.bytes).toBeCloseTo(154 * MIB, 0);
    expect(i.dirtyRateBps).toBe(0);
  });
});
