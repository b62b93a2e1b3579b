/**
 * Error statistics of a validation: absolute percentage errors (APE) of a prediction against real runs,
 * their median and 90th percentile, and the real runs' own spread on the same scale, so a reviewer can
 * see how much of the error is the model and how much is the lab's noise.
 */
import type { MigrationResult } from '../result.ts';

/** The metrics compared between a prediction and a real run. */
export const METRICS = ['totalTimeMs', 'bytes', 'downtimeMs', 'iterations'] as const;
export type Metric = (typeof METRICS)[number];

/** Targets of issue 7 on the test subset: p90 APE, percent (iterations have none). */
export const TARGET_P90: Record<Metric, number | null> = {
  totalTimeMs: 5,
  bytes: 5,
  downtimeMs: 20,
  iterations: null,
};

/** The compared figures of one run; null where the run has none (a migration that did not complete). */
export type Figures = Record<Metric, number | null>;

/** |predicted − real| / |real| × 100; null when either is missing or the real value is 0. */
export function ape(predicted: number | null, real: number | null): number | null {
  if (predicted === null || real === null || !Number.isFinite(predicted) || !Number.isFinite(real))
    return null;
  if (real === 0) return predicted === 0 ? 0 : null;
  return (Math.abs(predicted - real) / Math.abs(real)) * 100;
}

/** The q-quantile (0..1) of `values` by linear interpolation between order statistics (R type 7); null when empty. */
export function quantile(values: readonly number[], q: number): number | null {
  if (q < 0 || q > 1 || Number.isNaN(q)) throw new RangeError(`quantile: q must be in [0, 1] (got ${q})`);
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const h = (v.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return v[lo]! + (h - lo) * (v[hi]! - v[lo]!);
}

/** The median of `values` (null when empty). */
export const median = (values: readonly number[]): number | null => quantile(values, 0.5);

/** n, median and 90th percentile of a set of APEs. */
export interface ErrorSummary {
  n: number;
  p50: number | null;
  p90: number | null;
}

/** Summarise APEs, ignoring nulls. */
export function summarize(apes: readonly (number | null)[]): ErrorSummary {
  const v = apes.filter((x): x is number => x !== null);
  return { n: v.length, p50: quantile(v, 0.5), p90: quantile(v, 0.9) };
}

/** APE of a prediction against each real repeat, per metric. */
export function apesAgainst(pred: Figures, reals: readonly Figures[]): Record<Metric, (number | null)[]> {
  const out = {} as Record<Metric, (number | null)[]>;
  for (const m of METRICS) out[m] = reals.map((r) => ape(pred[m], r[m]));
  return out;
}

/**
 * The real runs' spread, as an APE: each repeat against the median of the others (leave-one-out), so it
 * reads like a prediction error (the best any model of the mean could hope for). Empty with one repeat.
 */
export function spreadApes(reals: readonly Figures[]): Record<Metric, (number | null)[]> {
  const out = {} as Record<Metric, (number | null)[]>;
  for (const m of METRICS) {
    out[m] = [];
    if (reals.length < 2) continue;
    reals.forEach((r, i) => {
      const others = reals
        .filter((_, j) => j !== i)
        .map((x) => x[m])
        .filter((x): x is number => x !== null);
      out[m].push(ape(median(others), r[m]));
    });
  }
  return out;
}

/** The median of each metric over real repeats (null where no repeat has it). */
export function medianFigures(reals: readonly Figures[]): Figures {
  const out = {} as Figures;
  for (const m of METRICS) out[m] = median(reals.map((r) => r[m]).filter((x): x is number => x !== null));
  return out;
}

/**
 * A result's figures as QEMU's own counters give them: RAM wire bytes (query-migrate `ram.transferred`;
 * it has no device-state counter, and its `disk.transferred` counts block migration's bulk progress, not
 * wire bytes, and is gone from the final reply, so block bytes are not compared), the downtime QEMU
 * measures on the source (vm_stop to completion), and dirty-bitmap syncs.
 */
export function resultFigures(r: MigrationResult): Figures {
  const completed = r.outcome === 'completed';
  let downtime: number | null = null;
  if (completed) {
    if (r.source === 'real') downtime = r.downtimeMs;
    else if (r.downtimeBreakdown.finalPassMs !== null)
      // The simulator's downtimeMs runs to the destination resuming; QEMU's stops when the source is done.
      downtime = r.downtimeBreakdown.finalPassMs + Number(r.extra.preSwitchoverWaitMs ?? 0);
  }
  return {
    totalTimeMs: r.totalTimeMs,
    bytes: r.bytes.ram,
    downtimeMs: downtime,
    iterations: r.iterations.length,
  };
}
