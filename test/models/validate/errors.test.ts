import { describe, expect, it } from 'vitest';
import {
  ape,
  apesAgainst,
  type Figures,
  median,
  medianFigures,
  quantile,
  resultFigures,
  spreadApes,
  summarize,
} from '../../../models/validate/errors.ts';
import { fakeReal, simResult } from './helpers.ts';

const fig = (t: number, b: number, d: number | null, i: number): Figures => ({
  totalTimeMs: t,
  bytes: b,
  downtimeMs: d,
  iterations: i,
});

describe('ape', () => {
  it('is |predicted - real| / real in percent', () => {
    expect(ape(110, 100)).toBeCloseTo(10, 12);
    expect(ape(90, 100)).toBeCloseTo(10, 12);
    expect(ape(3, 4)).toBe(25);
  });
  it('is null when either side is missing or the real value is 0 (0 when both are 0)', () => {
    expect(ape(null, 1)).toBeNull();
    expect(ape(1, null)).toBeNull();
    expect(ape(5, 0)).toBeNull();
    expect(ape(0, 0)).toBe(0);
    expect(ape(Number.NaN, 1)).toBeNull();
  });
});

describe('quantile', () => {
  it('interpolates between order statistics (R type 7)', () => {
    // sorted 1 2 3 4 5 6 7 8 9 10: p50 = 5.5, p90 at h = 8.1 → 9 + 0.1 × 1 = 9.1
    const v = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
    expect(quantile(v, 0.5)).toBe(5.5);
    expect(quantile(v, 0.9)).toBeCloseTo(9.1, 12);
    expect(quantile(v, 0)).toBe(1);
    expect(quantile(v, 1)).toBe(10);
    expect(quantile([4], 0.9)).toBe(4);
    expect(quantile([], 0.5)).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
  });
  it('rejects q outside [0, 1]', () => {
    expect(() => quantile([1], 1.5)).toThrow(/q must be in \[0, 1\] \(got 1.5\)/);
  });
});

describe('summarize', () => {
  it('ignores nulls and gives n, p50, p90', () => {
    // 0 10 20 30 40: p50 = 20, p90 at h = 3.6 → 30 + 0.6 × 10 = 36
    expect(summarize([40, null, 0, 20, 10, 30])).toEqual({ n: 5, p50: 20, p90: 36 });
    expect(summarize([null])).toEqual({ n: 0, p50: null, p90: null });
  });
});

describe('spread and medians of real repeats', () => {
  const reals = [fig(100, 1000, 10, 4), fig(110, 1000, 12, 4), fig(90, 1100, null, 5)];
  it('medianFigures takes each metric over the repeats that have it', () => {
    expect(medianFigures(reals)).toEqual(fig(100, 1000, 11, 4));
  });
  it('spreadApes compares each repeat with the median of the others', () => {
    const s = spreadApes(reals);
    // repeat 0: others 110, 90 → median 100 → APE 0; repeat 1: others 100, 90 → 95 → |95-110|/110
    expect(s.totalTimeMs[0]).toBe(0);
    expect(s.totalTimeMs[1]).toBeCloseTo((15 / 110) * 100, 10);
    expect(s.totalTimeMs[2]).toBeCloseTo((15 / 90) * 100, 10);
    // repeat 2 has no downtime: null
    expect(s.downtimeMs[2]).toBeNull();
    expect(s.downtimeMs[0]).toBeCloseTo((2 / 10) * 100, 10);
    expect(spreadApes([reals[0]!]).totalTimeMs).toEqual([]);
  });
  it('apesAgainst compares one prediction with every repeat', () => {
    const a = apesAgainst(fig(100, 1000, 10, 4), reals);
    expect(a.totalTimeMs.map((x) => Number(x!.toFixed(3)))).toEqual([0, 9.091, 11.111]);
    expect(a.iterations).toEqual([0, 0, 20]);
  });
});

describe('resultFigures', () => {
  it('counts RAM wire bytes and QEMU’s source-side downtime for a simulated run', () => {
    const r = simResult('lab-dirty-converge');
    const f = resultFigures(r);
    expect(f.bytes).toBe(r.bytes.ram);
    expect(f.bytes).toBeLessThan(r.bytes.total); // device state is not in query-migrate's ram counters
    expect(f.downtimeMs).toBeCloseTo(
      r.downtimeBreakdown.finalPassMs! + Number(r.extra.preSwitchoverWaitMs),
      9,
    );
    expect(f.downtimeMs!).toBeLessThan(r.downtimeMs!);
    expect(f.iterations).toBe(r.iterations.length);
  });
  it('takes a real run’s QMP downtime and has none for a run that did not complete', () => {
    const real = fakeReal(simResult('lab-dirty-converge'));
    expect(resultFigures(real).downtimeMs).toBe(real.downtimeMs);
    expect(resultFigures({ ...real, outcome: 'timeout' }).downtimeMs).toBeNull();
  });
});
