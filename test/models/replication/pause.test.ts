/**
 * Pause time per epoch against the arithmetic of qemu-spec.md §6: with free host costs a checkpoint's
 * pause is its bytes at the link rate plus one round trip, its bytes are 4104 per dirty page plus a fixed
 * part, and the dirty pages of an epoch of uniform writes are the expected number of distinct pages hit.
 * With host costs, the send loop's first writev and the dirty-log sync come before the link is busy.
 */
import { describe, expect, it } from 'vitest';
import { checkpoints, FREE_HOST, scenario } from './helpers.ts';

const NS_PER_BYTE = 8; // 1000 Mbit/s
const RTT_NS = 200_000;
const FIXED_BYTES = 16 + 5 + 8 + 5 + 21 + 256 * 1024 + 5 + 1;
const WSS_PAGES = 8 * 256;

/** Expected distinct pages hit by `writes` uniform writes over `n` pages. */
function distinct(n: number, writes: number): number {
  return n * (1 - (1 - 1 / n) ** writes);
}

describe('pause time and dirty rate', () => {
  const rates = [1, 4, 16];
  const runs = rates.map((dirtyRateMiBps) =>
    checkpoints(
      scenario({
        host: FREE_HOST,
        workload: { dirtyRateMiBps },
        replication: { epochMs: 200, durationS: 2 },
      }),
    ),
  );

  it('every epoch pauses for its bytes at the link rate plus one round trip', () => {
    for (const { cps } of runs) {
      const epochs = cps.slice(1);
      expect(epochs.length).toBeGreaterThanOrEqual(9);
      for (const cp of epochs) {
        expect(cp.bytes).toBe(cp.pagesSent * 4104 + FIXED_BYTES);
        expect(cp.ackNs - cp.stopNs).toBe(cp.bytes * NS_PER_BYTE + RTT_NS);
      }
    }
  });

  it('dirty pages per epoch are the distinct pages of epochMs of writes', () => {
    runs.forEach(({ cps }, i) => {
      // Full epochs only: the last one is cut at the end of the run.
      const full = cps.slice(1).filter((cp) => cp.stopNs - cp.runStartNs === 200e6);
      const mean = full.reduce((a, cp) => a + cp.dirtyPagesAtSync, 0) / full.length;
      const want = distinct(WSS_PAGES, rates[i]! * 256 * 0.2);
      expect(mean).toBeGreaterThan(want * 0.95);
      expect(mean).toBeLessThan(want * 1.05);
    });
  });

  it('grows with the dirty rate as (pages × 4104 + fixed) / rate + RTT', () => {
    const means = runs.map(({ result }) => result.replication!.pauseMs.mean);
    expect(means[1]!).toBeGreaterThan(means[0]!);
    expect(means[2]!).toBeGreaterThan(means[1]!);
    rates.forEach((rate, i) => {
      const pages = distinct(WSS_PAGES, rate * 256 * 0.2);
      const wantMs = ((pages * 4104 + FIXED_BYTES) * NS_PER_BYTE + RTT_NS) / 1e6;
      // The mean includes the shorter last epoch; the pages estimate holds to a few percent.
      expect(Math.abs(means[i]! - wantMs) / wantMs).toBeLessThan(0.05);
    });
  });

  it('the pause share of wall time is total pause over wall time', () => {
    for (const { result } of runs) {
      const r = result.replication!;
      const sum = result.iterations.reduce((a, it) => a + (it.endMs - it.startMs), 0);
      expect(r.pauseMs.total).toBeCloseTo(sum, 6);
      expect(r.pauseMs.share).toBeCloseTo(sum / r.wallTimeMs, 9);
    }
  });

  it('with host costs: the sync and the first writev come before the link is busy', () => {
    // 32 MiB: sync 2 ms/GiB → 62.5 µs; 900 ns per page, a writev per 32 pages; device save (2 ms)
    // overlaps the wire time, which is far longer (≥ 64 pages ≈ 2.1 ms + 256 KiB ≈ 2.1 ms).
    const { cps } = checkpoints(
      scenario({
        host: { pageCopyNs: 900, bitmapSyncNsPerGiB: 2_000_000, deviceSaveMs: 2, deviceLoadMs: 5 },
        workload: { dirtyRateMiBps: 8 },
      }),
    );
    const epochs = cps.slice(1).filter((cp) => cp.pagesSent >= 64);
    expect(epochs.length).toBeGreaterThan(5);
    for (const cp of epochs)
      expect(cp.ackNs - cp.stopNs).toBe(62_500 + 32 * 900 + cp.bytes * NS_PER_BYTE + RTT_NS);
  });

  it('acking after the load (COLO) adds the device load time to every pause', () => {
    const base = { host: FREE_HOST, workload: { dirtyRateMiBps: 4 } };
    const colo = checkpoints(
      scenario({ ...base, host: { ...FREE_HOST, deviceLoadMs: 5 }, replication: { ackAfterLoad: true } }),
    );
    for (const cp of colo.cps.slice(1))
      expect(cp.ackNs - cp.stopNs).toBe(cp.bytes * NS_PER_BYTE + RTT_NS + 5e6);
  });
});
