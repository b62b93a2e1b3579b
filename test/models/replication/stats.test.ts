/** Nearest-rank summaries of per-epoch and per-sample figures. */
import { describe, expect, it } from 'vitest';
import { quantile, summarize } from '../../../models/replication/stats.ts';

describe('summaries', () => {
  it('take nearest-rank quantiles of unsorted input, scaled', () => {
    const v = Array.from({ length: 100 }, (_, i) => (i * 37) % 100); // 0..99, shuffled
    expect(summarize(v)).toEqual({ mean: 49.5, p50: 49, p99: 98, max: 99 });
    expect(summarize([2e6, 4e6], 1e-6)).toEqual({ mean: 3, p50: 2, p99: 4, max: 4 });
    expect(quantile([5], 0.99)).toBe(5);
  });

  it('are all zero for no values', () => {
    expect(summarize([])).toEqual({ mean: 0, p50: 0, p99: 0, max: 0 });
  });
});
