/** Summaries of per-epoch and per-sample figures: mean, median, 99th percentile, maximum. */

/** Mean, p50, p99 and max of a set of values (all 0 for an empty set). */
export interface Summary {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** The nearest-rank quantile `q` of ascending `sorted` (q in [0, 1]). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const i = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[i]!;
}

/** Summarise `values`, each multiplied by `scale` (e.g. 1e-6 for ns → ms). */
export function summarize(values: ArrayLike<number>, scale = 1): Summary {
  const n = values.length;
  if (n === 0) return { mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    mean: (sum / n) * scale,
    p50: quantile(sorted, 0.5) * scale,
    p99: quantile(sorted, 0.99) * scale,
    max: sorted[n - 1]! * scale,
  };
}
