/**
 * `migscope bench` (npm run bench): runs every test/bench/*.bench.ts and prints its figures.
 * A bench module's default export is `() => Promise<BenchRow[]>`; timings live here, never in tests.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError } from '../../sim/errors.ts';

/** One measured figure. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** The target, in the same unit, and whether higher is better. */
  target?: { value: number; higherIsBetter: boolean };
  note?: string;
}

export const HELP = `migscope bench [--only NAME]

Runs the benchmarks in test/bench/*.bench.ts and prints each figure with its target and ratio.
  --only NAME   run only the bench files whose name contains NAME (e.g. sim, sweep, report)
`;

export async function run(argv: string[]): Promise<number> {
  let values: { only?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { only: { type: 'string' } } }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts') && (!values.only || f.includes(values.only)))
    .sort();
  if (files.length === 0) throw new UsageError(`no bench file matches "${values.only}"`);
  for (const f of files) {
    process.stdout.write(`\n== ${f}\n`);
    const mod = (await import(join(here, f))) as { default: () => Promise<BenchRow[]> };
    for (const row of await mod.default()) process.stdout.write(`${formatRow(row)}\n`);
  }
  return 0;
}

/** One aligned line: name, value, unit, target and ratio (>= 1 means the target is met). */
export function formatRow(r: BenchRow): string {
  let s = `${r.name.padEnd(58)} ${fmt(r.value).padStart(12)} ${r.unit}`;
  if (r.target) {
    const ratio = r.target.higherIsBetter ? r.value / r.target.value : r.target.value / r.value;
    s += `   target ${r.target.higherIsBetter ? '>=' : '<='} ${fmt(r.target.value)} ${r.unit}, ratio ${ratio.toFixed(2)} ${ratio >= 1 ? 'ok' : 'MISSED'}`;
  }
  if (r.note) s += `   (${r.note})`;
  return s;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
