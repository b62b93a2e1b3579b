/**
 * The standby holds the last acknowledged version of every page: right before a checkpoint commits, the
 * pages it differs on are exactly the checkpoint's pages; right after, none. Over random small scenarios the
 * standby ends with the primary's last version of every page.
 */
import { describe, expect, it } from 'vitest';
import { staleCount } from '../../../models/guest/from-scenario.ts';
import { createRng } from '../../../sim/random.ts';
import { run, scenario } from './helpers.ts';

describe('the standby after each checkpoint', () => {
  it('differs on exactly the pages in flight, then on none', () => {
    let checked = 0;
    const result = run(scenario({ workload: { kind: 'zipf', dirtyRateMiBps: 16 } }), (cp, phase, ctx) => {
      const stale = staleCount(ctx.mem.version!, ctx.standby.pageVersion!);
      if (phase === 'committed') {
        expect(stale, `checkpoint ${cp.index}`).toBe(0);
        checked++;
      } else if (cp.index > 0) {
        expect(stale, `checkpoint ${cp.index}`).toBe(cp.pagesSent);
        expect(stale).toBeGreaterThan(0);
      } else expect(stale).toBeLessThanOrEqual(cp.pagesSent);
    });
    expect(checked).toBe(result.iterations.length + 1);
  });

  it('lags while the guest runs (the check above is not vacuous)', () => {
    const result = run(scenario({ workload: { dirtyRateMiBps: 16 } }));
    const f = result.replication!.failover;
    expect(f.samples).toBe(200);
    expect(f.unackedPages.mean).toBeGreaterThan(0);
    expect(f.unackedPages.max).toBeLessThanOrEqual(result.replication!.dirtyPagesPerEpoch.max);
  });

  it('lags by the run time since the last checkpoint: sampled failovers agree with the arithmetic', () => {
    const result = run(
      scenario({ workload: { dirtyRateMiBps: 16 }, replication: { failoverSamples: 4000 } }),
    );
    const r = result.replication!;
    // A cycle of e = 200 ms run and p pause: mean lag (e²/2 + e·p) / (e + p), max e.
    const p = r.pauseMs.mean;
    expect(r.lagMs.mean).toBeCloseTo((200 ** 2 / 2 + 200 * p) / (200 + p), 0);
    expect(r.lagMs.max).toBe(200);
    expect(Math.abs(r.failover.lostRunMs.mean - r.lagMs.mean) / r.lagMs.mean).toBeLessThan(0.05);
    // Wall time since the last ack is uniform over a cycle: mean (e + p) / 2.
    expect(Math.abs(r.failover.sinceAckMs.mean - (200 + p) / 2) / ((200 + p) / 2)).toBeLessThan(0.05);
  });
});

describe('over random small scenarios', () => {
  it('ends with every page in its last version, and reruns identically', () => {
    const kinds = ['idle', 'uniform', 'zipf', 'sequential'] as const;
    for (let i = 0; i < 12; i++) {
      const rng = createRng(i, 77);
      const s = scenario({
        seed: rng.uint32(),
        vm: { memoryMiB: 16 + 8 * (rng.uint32() % 3), uniformPageFraction: rng.float() },
        workload: { kind: kinds[i % 4], wssMiB: 1 + (rng.uint32() % 8), dirtyRateMiBps: rng.float() * 32 },
        migration: { maxBandwidthMiBps: [0, 16, 64][rng.uint32() % 3], timeoutS: 20 },
        network: { bandwidthMbps: [100, 1000, 10000][rng.uint32() % 3], rttMs: rng.float() * 2 },
        replication: {
          epochMs: 10 + rng.float() * 400,
          durationS: 0.5 + rng.float(),
          outputBuffering: rng.float() < 0.5,
          ackAfterLoad: rng.float() < 0.5,
          failoverSamples: 50,
        },
      });
      const a = run(s);
      expect(a.outcome, `scenario ${i}`).toBe('completed');
      expect(a.delivery, `scenario ${i}`).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
      const f = a.replication!.failover;
      expect(f.lostRunMs.max).toBeLessThanOrEqual(s.replication!.epochMs + 1e-6);
      expect(f.sinceAckMs.max).toBeLessThanOrEqual(
        s.replication!.epochMs + a.replication!.pauseMs.max + 1e-6,
      );
      expect(run(s)).toEqual(a);
    }
  });
});
