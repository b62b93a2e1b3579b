/**
 * Expansion of a design into points and runs. Grid enumerates every combination (the last parameter
 * varies fastest); random draws each value independently; Latin hypercube (lhs) splits each parameter's
 * quantile range into `samples` equal strata and puts exactly one sample in each, pairing strata across
 * parameters by independent seeded permutations. Draws come from `sim/random.ts`, so a seed fixes them.
 */
import { createRng } from '../random.ts';
import { type Design, gridValues, valueAt } from './design.ts';

/** One point of parameter space. */
export interface Point {
  /** Position in the expansion. */
  index: number;
  /** Parameter path → value, in the design's parameter order. */
  values: Record<string, unknown>;
}

/** One run: a point and a repeat number. */
export interface Run {
  /** Position in the expansion: point index × repeats + repeat. */
  index: number;
  point: Point;
  repeat: number;
}

/** Every point of the design, in a fixed order. */
export function expandPoints(d: Design): Point[] {
  if (d.sampler === 'grid') return gridPoints(d);
  const n = d.samples ?? 0;
  const quantiles =
    d.sampler === 'random'
      ? randomQuantiles(d.seed, n, d.parameters.length)
      : lhsQuantiles(d.seed, n, d.parameters.length);
  const points: Point[] = [];
  for (let i = 0; i < n; i++) {
    const values: Record<string, unknown> = {};
    d.parameters.forEach((p, j) => {
      values[p.path] = valueAt(p.spec, quantiles[j]![i]!);
    });
    points.push({ index: i, values });
  }
  return points;
}

/** Every run of the design: each point `repeats` times. */
export function expandRuns(d: Design): Run[] {
  const runs: Run[] = [];
  for (const point of expandPoints(d))
    for (let r = 0; r < d.repeats; r++) runs.push({ index: point.index * d.repeats + r, point, repeat: r });
  return runs;
}

function gridPoints(d: Design): Point[] {
  const axes = d.parameters.map((p) => gridValues(p.spec));
  const total = axes.reduce((n, a) => n * a.length, 1);
  const points: Point[] = [];
  for (let i = 0; i < total; i++) {
    const values: Record<string, unknown> = {};
    let rest = i;
    for (let j = axes.length - 1; j >= 0; j--) {
      const axis = axes[j]!;
      values[d.parameters[j]!.path] = axis[rest % axis.length];
      rest = Math.floor(rest / axis.length);
    }
    // Re-insert in parameter order (the loop above filled them last-first).
    const ordered: Record<string, unknown> = {};
    for (const p of d.parameters) ordered[p.path] = values[p.path];
    points.push({ index: i, values: ordered });
  }
  return points;
}

/** quantiles[param][sample] in [0, 1), drawn sample by sample from one stream (stream 0). */
function randomQuantiles(seed: number, n: number, params: number): number[][] {
  const rng = createRng(seed, 0);
  const q = Array.from({ length: params }, () => new Array<number>(n));
  for (let i = 0; i < n; i++) for (let j = 0; j < params; j++) q[j]![i] = rng.float();
  return q;
}

/** quantiles[param][sample]: parameter j uses stream j + 1, a random permutation of strata, a jitter in each. */
function lhsQuantiles(seed: number, n: number, params: number): number[][] {
  const q: number[][] = [];
  for (let j = 0; j < params; j++) {
    const rng = createRng(seed, j + 1);
    const strata = Array.from({ length: n }, (_, k) => k);
    for (let k = n - 1; k > 0; k--) {
      const m = Math.floor(rng.float() * (k + 1));
      [strata[k], strata[m]] = [strata[m]!, strata[k]!];
    }
    q.push(strata.map((s) => (s + rng.float()) / n));
  }
  return q;
}
