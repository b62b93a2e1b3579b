/**
 * Tables of a sweep's results: CSV rows with the swept parameters first, then the run's identity, then
 * every scalar result field flattened (bytes.total, downtimeBreakdown.drainMs, extra.*), then message,
 * error, the simulator build and the key. Rows follow the expansion order; runs not yet stored are left out.
 */
import { type Cell, flattenScalars, toCsv } from '../../sim/sweep/csv.ts';
import type { RunRecord } from '../../sim/sweep/store.ts';
import type { PlannedRun } from './plan.ts';
import type { SweepOutput } from './task.ts';

/** Columns that come last, whatever the result holds. */
const TAIL = ['message', 'error', 'build', 'key'];

function cell(v: unknown): Cell {
  return v === null || v === undefined || typeof v !== 'object' ? (v as Cell) : JSON.stringify(v);
}

/** One row per stored run: column → value. Also returns the columns in order. */
export function sweepRows(
  params: readonly string[],
  plan: readonly PlannedRun[],
  byKey: ReadonlyMap<string, RunRecord<SweepOutput>>,
): { columns: string[]; rows: Record<string, Cell>[] } {
  const head = [...params, 'run', 'repeat', 'seed', 'status'];
  const resultColumns: string[] = [];
  const seen = new Set([...head, ...TAIL]);
  const rows: Record<string, Cell>[] = [];
  for (const run of plan) {
    const rec = byKey.get(run.key);
    if (!rec) continue;
    const row: Record<string, Cell> = {};
    for (const p of params) row[p] = cell(run.params[p]);
    row.run = run.index;
    row.repeat = run.repeat;
    row.seed = run.seed;
    row.status = rec.status;
    if (rec.status === 'ok' && rec.output) {
      for (const [k, v] of Object.entries(flattenScalars(rec.output))) {
        if (!seen.has(k)) {
          seen.add(k);
          resultColumns.push(k);
        }
        row[k] = v;
      }
    }
    row.error = rec.error ?? null;
    row.build = typeof rec.build === 'string' ? rec.build : null;
    row.key = run.key;
    rows.push(row);
  }
  return { columns: [...head, ...resultColumns, ...TAIL], rows };
}

/** The CSV text of a sweep's stored runs. */
export function sweepCsv(
  params: readonly string[],
  plan: readonly PlannedRun[],
  byKey: ReadonlyMap<string, RunRecord<SweepOutput>>,
): string {
  const { columns, rows } = sweepRows(params, plan, byKey);
  return toCsv(columns, rows);
}
