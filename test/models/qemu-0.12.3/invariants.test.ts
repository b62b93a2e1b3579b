/** The memory invariant and determinism, over many random seeded scenarios. */
import { describe, expect, it } from 'vitest';
import { resultToJson } from '../../../models/result.ts';
import { createRng } from '../../../sim/random.ts';
import { toOtlpJsonl } from '../../../trace/export/otlp-jsonl.ts';
import { run, scenario } from './helpers.ts';

function randomScenario(i: number) {
  const r = createRng(1000 + i, 0);
  const pick = <T>(xs: readonly T[]) => xs[r.uint32() % xs.length]!;
  const memoryMiB = pick([8, 16, 32, 48, 64]);
  const kind = pick(['idle', 'uniform', 'zipf', 'sequential'] as const);
  const withDisk = r.float() < 0.3;
  return scenario({
    seed: r.uint32(),
    vm: { memoryMiB, uniformPageFraction: r.float() },
    workload: {
      kind,
      wssMiB: Math.max(1, Math.floor(r.float() * memoryMiB)),
      dirtyRateMiBps: pick([0, 1, 4, 16, 64]),
      zipfS: 0.6 + r.float(),
      diskWriteMiBps: withDisk ? pick([0, 1, 4]) : 0,
    },
    disk: withDisk ? { sizeMiB: pick([8, 16, 32]), allocatedMiB: 8, migrate: r.float() < 0.8 } : null,
    migration: {
      maxBandwidthMiBps: pick([8, 32, 128, 1024]),
      downtimeLimitMs: pick([1, 30, 300]),
      timeoutS: 30,
    },
    network: {
      bandwidthMbps: pick([100, 1000, 10000]),
      rttMs: pick([0.05, 0.2, 5]),
      sendBufferKiB: pick([64, 512, 4096]),
    },
    host: { pageCopyNs: pick([100, 900, 5000]) },
    libvirt: { enabled: r.float() < 0.5 },
  });
}

describe('memory invariant', () => {
  it('at completion the destination holds the last-written version of every page and chunk (300 scenarios)', () => {
    let completed = 0;
    let timedOut = 0;
    const stale: string[] = [];
    for (let i = 0; i < 300; i++) {
      const s = randomScenario(i);
      const { result: r } = run(s);
      if (r.outcome === 'completed') {
        completed++;
        if (!r.delivery?.checked || r.delivery.pagesStale !== 0 || r.delivery.chunksStale !== 0)
          stale.push(`#${i}: ${JSON.stringify(r.delivery)}`);
        // Every page crossed at least once.
        expect(r.pages.normal + r.pages.uniform).toBeGreaterThanOrEqual(s.vm.memoryMiB * 256);
      } else timedOut++;
    }
    expect(stale).toEqual([]);
    expect(completed).toBeGreaterThan(200);
    expect(completed + timedOut).toBe(300);
  });
});

describe('determinism', () => {
  it('the same scenario gives byte-identical result.json and trace', () => {
    for (const i of [3, 17, 42]) {
      const s = randomScenario(i);
      const a = run(s, 'tick');
      const b = run(randomScenario(i), 'tick');
      expect(resultToJson(b.result)).toBe(resultToJson(a.result));
      expect(toOtlpJsonl([b.spans])).toBe(toOtlpJsonl([a.spans]));
      expect(a.spans.length).toBeGreaterThan(3);
    }
  });

  it('a different seed gives a different run', () => {
    const s = scenario({
      vm: { memoryMiB: 64 },
      workload: { kind: 'uniform', wssMiB: 16, dirtyRateMiBps: 8 },
    });
    const a = run(s).result;
    const b = run({ ...s, seed: s.seed + 1 }).result;
    expect(resultToJson(a)).not.toBe(resultToJson(b));
  });
});
