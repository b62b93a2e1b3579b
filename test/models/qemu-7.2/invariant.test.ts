/**
 * Over hundreds of random small scenarios: a completed migration leaves the destination with the last
 * version of every page and chunk, and the same scenario always gives the same result.
 */
import { describe, expect, it } from 'vitest';
import type { Capability } from '../../../models/scenario.ts';
import { createRng } from '../../../sim/random.ts';
import { run, scenario } from './helpers.ts';

const KINDS = ['idle', 'uniform', 'zipf', 'sequential'] as const;
const CAPS: Capability[] = ['auto-converge', 'xbzrle', 'multifd', 'zero-blocks'];

function randomScenario(i: number) {
  const rng = createRng(i, 99);
  const pick = <T>(xs: readonly T[]): T => xs[rng.uint32() % xs.length]!;
  const memoryMiB = pick([16, 24, 32, 48, 64]);
  const kind = pick(KINDS);
  const withDisk = rng.float() < 0.2;
  const caps = CAPS.filter(() => rng.float() < 0.3);
  return scenario({
    seed: rng.uint32(),
    vm: { memoryMiB, uniformPageFraction: rng.float() },
    disk: withDisk ? { sizeMiB: 32, allocatedMiB: 8, migrate: rng.float() < 0.7 } : undefined,
    workload: {
      kind,
      wssMiB: Math.max(1, Math.floor(memoryMiB * rng.float() * 0.5)),
      dirtyRateMiBps: Math.floor(rng.float() * 48),
      zipfS: 0.6 + rng.float(),
      cpuShare: 0.1 + rng.float() * 0.9,
      diskWriteMiBps: withDisk ? rng.float() * 0.2 : 0,
    },
    migration: {
      maxBandwidthMiBps: pick([0, 8, 32, 128]),
      downtimeLimitMs: pick([30, 100, 300]),
      capabilities: caps,
      timeoutS: 4,
      xbzrleCacheMiB: pick([1, 4, 16]),
      multifdChannels: 1 + (rng.uint32() % 4),
    },
    network: {
      bandwidthMbps: pick([100, 1000, 10000]),
      rttMs: rng.float(),
      sendBufferKiB: pick([256, 4096]),
    },
    libvirt: { enabled: rng.float() < 0.5 },
  });
}

const N = 200;

describe('qemu-7.2 over random scenarios', () => {
  it(`delivers the last version of everything and is deterministic (${N} scenarios)`, () => {
    let completed = 0;
    let timedOut = 0;
    for (let i = 0; i < N; i++) {
      const s = randomScenario(i);
      const a = run(s).result;
      if (a.outcome === 'completed') {
        completed++;
        expect(a.delivery, `scenario ${i}`).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
        expect(a.downtimeMs!, `scenario ${i}`).toBeGreaterThan(0);
        expect(a.iterations.at(-1)!.remainingPages, `scenario ${i}`).toBe(0);
      } else {
        expect(a.outcome, `scenario ${i}`).toBe('timeout');
        timedOut++;
      }
      if (i % 4 === 0) expect(run(s).result, `scenario ${i}`).toEqual(a);
    }
    // The set exercises both outcomes.
    expect(completed).toBeGreaterThan(N / 2);
    expect(timedOut).toBeGreaterThan(0);
  });

  it('gives identical spans for identical runs', () => {
    const s = randomScenario(7);
    const a = run(s, 'tick').spans.map((x) => [x.name, x.startTime, x.endTime, x.attributes]);
    const b = run(s, 'tick').spans.map((x) => [x.name, x.startTime, x.endTime, x.attributes]);
    expect(a.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });
});
