/**
 * When 7.2 syncs the dirty bitmap (qemu-spec.md §3.4): at setup, in ram_save_pending only when the cached
 * estimate is below the threshold (bandwidth of the last window × downtime-limit, 0 in the first window),
 * and once more in ram_save_complete.
 */
import { describe, expect, it } from 'vitest';
import { run, scenario } from './helpers.ts';

describe('qemu-7.2 bitmap syncs', () => {
  const s = scenario({
    vm: { memoryMiB: 64 },
    libvirt: { enabled: false },
    workload: { kind: 'zipf', wssMiB: 16, dirtyRateMiBps: 6, zipfS: 0.8 },
    migration: { maxBandwidthMiBps: 16, timeoutS: 60 },
  });
  const r = run(s).result;
  const downtime = s.migration.downtimeLimitMs;

  it('completes after several passes', () => {
    expect(r.outcome).toBe('completed');
    expect(r.iterations.length).toBeGreaterThanOrEqual(4);
    expect(r.extra.dirtySyncCount).toBe(r.iterations.length);
    for (const [i, it] of r.iterations.entries()) expect(it.index).toBe(i + 1);
  });

  it('syncs in pending only once the cached estimate is below the threshold', () => {
    const its = r.iterations;
    // Records 2 .. n−1 are syncs taken by ram_save_pending; the last one is ram_save_complete's.
    for (let k = 1; k < its.length - 1; k++) {
      const threshold = (its[k]!.bandwidthEstimate! / 1000) * downtime;
      expect(its[k - 1]!.remainingPages * 4096).toBeLessThan(threshold);
    }
  });

  it('completes at the first sync whose fresh estimate is below the threshold, and only then', () => {
    const its = r.iterations;
    for (let k = 1; k < its.length - 1; k++) {
      const threshold = (its[k]!.bandwidthEstimate! / 1000) * downtime;
      const fresh = (its[k - 1]!.remainingPages + its[k]!.dirtyPagesAtSync) * 4096;
      if (k < its.length - 2) expect(fresh).toBeGreaterThanOrEqual(threshold);
      else expect(fresh).toBeLessThan(threshold);
    }
    // The pass between the deciding sync and the final one sends nothing: the guest is being stopped.
    expect(its.at(-2)!.pagesSent).toBe(0);
  });

  it('takes no sync in the first 100 ms window (threshold 0)', () => {
    expect(r.iterations[0]!.bandwidthEstimate).toBeNull();
    expect(r.iterations[1]!.startMs - r.iterations[0]!.startMs).toBeGreaterThan(100);
  });

  it('completes in the first window with no sync when pending reaches exactly 0', () => {
    // 16 MiB, unlimited: RAM is sent (into the link and socket buffer) before the first window closes;
    // pending 0 is not ≥ threshold 0, so the thread completes without a pending-time sync.
    const q = run(
      scenario({
        vm: { memoryMiB: 16 },
        libvirt: { enabled: false },
        workload: { kind: 'uniform', wssMiB: 4, dirtyRateMiBps: 4 },
        migration: { maxBandwidthMiBps: 0 },
      }),
    ).result;
    expect(q.outcome).toBe('completed');
    expect(q.totalTimeMs).toBeLessThan(100);
    expect(q.iterations.length).toBe(2); // setup sync, then ram_save_complete's
    expect(q.extra.windows).toBe(0);
    expect(q.delivery!.pagesStale).toBe(0);
  });
});
