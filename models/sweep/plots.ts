/** The plots of a stored sweep (reports/sweep-plot.ts), written as SVG files under DIR/plots/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_METRICS, type ParamValue, type SweepPlotRow, sweepPlots } from '../../reports/sweep-plot.ts';
import type { RunRecord } from '../../sim/sweep/store.ts';
import { type PlannedRun, planSweep } from './plan.ts';
import type { SweepSpec } from './spec.ts';
import { readSweepStores } from './sweep.ts';
import type { SweepOutput } from './task.ts';

/** Plot rows of the stored runs, in sweep order; a failed run counts as not converged, with no metrics. */
export function plotRows(
  plan: readonly PlannedRun[],
  byKey: ReadonlyMap<string, RunRecord<SweepOutput>>,
): SweepPlotRow[] {
  const rows: SweepPlotRow[] = [];
  for (const run of plan) {
    const rec = byKey.get(run.key);
    if (!rec) continue;
    const params: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(run.params))
      params[k] =
        typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v);
    const o = rec.status === 'ok' ? rec.output : undefined;
    rows.push({
      params,
      converged: o?.converged === true,
      failed: rec.status !== 'ok',
      metrics: Object.fromEntries(
        DEFAULT_METRICS.map((m) => {
          const v = m.key
            .split('.')
            .reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o);
          return [m.key, typeof v === 'number' ? v : null];
        }),
      ),
    });
  }
  return rows;
}

/** Write DIR/plots/*.svg for a sweep; returns the files written. */
export function writeSweepPlots(spec: SweepSpec, outDir: string): string[] {
  const plan = planSweep(spec);
  const { byKey } = readSweepStores(outDir);
  const rows = plotRows(plan, byKey);
  const dir = join(outDir, 'plots');
  mkdirSync(dir, { recursive: true });
  return sweepPlots(
    rows,
    spec.design.parameters.map((p) => p.path),
  ).map((p) => {
    const f = join(dir, `${p.name}.svg`);
    writeFileSync(f, p.svg);
    return f;
  });
}
