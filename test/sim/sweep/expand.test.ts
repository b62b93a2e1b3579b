import { describe, expect, it } from 'vitest';
import { type Design, parseDesign } from '../../../sim/sweep/design.ts';
import { expandPoints, expandRuns } from '../../../sim/sweep/expand.ts';

const design = (raw: Record<string, unknown>): Design => parseDesign(raw, 'test');

describe('grid', () => {
  it('enumerates every combination, the last parameter fastest', () => {
    const pts = expandPoints(design({ parameters: { a: [1, 2], b: ['x', 'y', 'z'] } }));
    expect(pts.map((p) => p.values)).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(pts.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('expands the contract example to 4 x 9 x 4 points with the range values', () => {
    const pts = expandPoints(
      design({
        parameters: {
          'migration.maxBandwidthMiBps': [16, 32, 64, 128],
          'workload.dirtyRateMiBps': { from: 1, to: 256, steps: 9, scale: 'log' },
          'migration.downtimeLimitMs': { from: 30, to: 300, steps: 4 },
        },
      }),
    );
    expect(pts).toHaveLength(144);
    expect(new Set(pts.map((p) => p.values['workload.dirtyRateMiBps']))).toEqual(
      new Set([1, 2, 4, 8, 16, 32, 64, 128, 256]),
    );
    expect(pts[143]!.values).toEqual({
      'migration.maxBandwidthMiBps': 128,
      'workload.dirtyRateMiBps': 256,
      'migration.downtimeLimitMs': 300,
    });
    const keys = new Set(pts.map((p) => JSON.stringify(p.values)));
    expect(keys.size).toBe(144);
  });

  it('has one empty point with no parameters, and repeats it', () => {
    const runs = expandRuns(design({ repeats: 3 }));
    expect(runs.map((r) => [r.index, r.repeat, r.point.index])).toEqual([
      [0, 0, 0],
      [1, 1, 0],
      [2, 2, 0],
    ]);
  });
});

describe('random', () => {
  const raw = {
    sampler: 'random',
    samples: 200,
    seed: 5,
    parameters: { a: { from: 10, to: 20 }, b: [1, 2, 3, 4] },
  };

  it('is reproducible by seed and changes with it', () => {
    expect(expandPoints(design(raw))).toEqual(expandPoints(design(raw)));
    expect(expandPoints(design({ ...raw, seed: 6 }))).not.toEqual(expandPoints(design(raw)));
  });

  it('draws inside the range and from the list, covering both', () => {
    const pts = expandPoints(design(raw));
    const a = pts.map((p) => p.values.a as number);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...a)).toBeLessThan(20);
    expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(9);
    expect(new Set(pts.map((p) => p.values.b))).toEqual(new Set([1, 2, 3, 4]));
  });

  it('keeps the first samples when more are asked for', () => {
    const few = expandPoints(design({ ...raw, samples: 10 }));
    expect(expandPoints(design(raw)).slice(0, 10)).toEqual(few);
  });
});

describe('lhs', () => {
  const n = 50;
  const raw = {
    sampler: 'lhs',
    samples: n,
    seed: 11,
    parameters: {
      lin: { from: 100, to: 200 },
      log: { from: 1, to: 1000, scale: 'log' },
      list: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      stepped: { from: 0, to: 24, steps: 25 },
    },
  };
  const pts = expandPoints(design(raw));

  it('puts exactly one sample in each stratum of every continuous parameter', () => {
    const strataLin = pts.map((p) => Math.floor((((p.values.lin as number) - 100) / 100) * n));
    const strataLog = pts.map((p) => Math.floor((Math.log(p.values.log as number) / Math.log(1000)) * n));
    expect([...strataLin].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, k) => k));
    expect([...strataLog].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, k) => k));
  });

  it('spreads list and stepped values evenly (n / values each)', () => {
    const count = (key: string) => {
      const c = new Map<unknown, number>();
      for (const p of pts) c.set(p.values[key], (c.get(p.values[key]) ?? 0) + 1);
      return c;
    };
    expect([...count('list').values()]).toEqual(Array(10).fill(5));
    // 25 stepped values, 50 samples: each value exactly twice.
    expect([...count('stepped').values()]).toEqual(Array(25).fill(2));
  });

  it('is reproducible by seed and pairs strata differently per parameter', () => {
    expect(expandPoints(design(raw))).toEqual(pts);
    expect(expandPoints(design({ ...raw, seed: 12 }))).not.toEqual(pts);
    const order = (key: string, lo: number, span: number) =>
      pts.map((p) => Math.floor((((p.values[key] as number) - lo) / span) * n));
    expect(order('lin', 100, 100)).not.toEqual(Array.from({ length: n }, (_, k) => k));
  });
});
