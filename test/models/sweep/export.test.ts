import { describe, expect, it } from 'vitest';
import { sweepCsv, sweepRows } from '../../../models/sweep/export.ts';
import { planSweep } from '../../../models/sweep/plan.ts';
import { loadSweepSpec } from '../../../models/sweep/spec.ts';
import type { SweepOutput } from '../../../models/sweep/task.ts';
import { runTask } from '../../../models/sweep/task.ts';
import { toCsv } from '../../../sim/sweep/csv.ts';
import type { RunRecord } from '../../../sim/sweep/store.ts';

const spec = loadSweepSpec(new URL('../../fixtures/sweep/mixed.yaml', import.meta.url).pathname);
const plan = planSweep(spec);
const params = spec.design.parameters.map((p) => p.path);

describe('toCsv', () => {
  it('quotes commas, quotes and line breaks; leaves null empty', () => {
    expect(
      toCsv(
        ['a', 'b', 'c'],
        [
          { a: 'x,y', b: 'say "hi"', c: null },
          { a: 'l1\nl2', b: 1.5, c: false },
        ],
      ),
    ).toBe('a,b,c\n"x,y","say ""hi""",\n"l1\nl2",1.5,false\n');
  });
});

describe('sweep CSV', () => {
  const byKey = new Map<string, RunRecord<SweepOutput>>();
  const ok = runTask(plan[3]!.scenario!);
  byKey.set(plan[0]!.key, { key: plan[0]!.key, status: 'error', error: 'boom, with a comma', build: 'b1' });
  byKey.set(plan[3]!.key, { key: plan[3]!.key, status: 'ok', output: ok });

  it('puts the parameters first, flattens scalar result fields, and ends with message, error, build and key', () => {
    const { columns } = sweepRows(params, plan, byKey);
    expect(columns.slice(0, 6)).toEqual([
      'vm.memoryMiB',
      'migration.timeoutS',
      'run',
      'repeat',
      'seed',
      'status',
    ]);
    expect(columns).toContain('bytes.total');
    expect(columns).toContain('downtimeBreakdown.drainMs');
    expect(columns).toContain('iterationCount');
    expect(columns).toContain('extra.ticks');
    expect(columns.some((c) => c.startsWith('iterations'))).toBe(false);
    expect(columns.slice(-4)).toEqual(['message', 'error', 'build', 'key']);
  });

  it('has one row per stored run in sweep order, with the values of the result', () => {
    const lines = sweepCsv(params, plan, byKey).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const header = lines[0]!.split(',');
    const row = lines[2]!.split(',');
    const at = (c: string) => row[header.indexOf(c)];
    expect(at('vm.memoryMiB')).toBe('256');
    expect(at('migration.timeoutS')).toBe('60');
    expect(at('run')).toBe('3');
    expect(at('seed')).toBe(String(plan[3]!.seed));
    expect(at('totalTimeMs')).toBe(String(ok.totalTimeMs));
    expect(at('bytes.total')).toBe(String(ok.bytes.total));
    expect(at('converged')).toBe('true');
    expect(at('key')).toBe(plan[3]!.key);
    expect(lines[1]).toBe(
      `64,2,0,0,${plan[0]!.seed},error${','.repeat(header.length - 9)},"boom, with a comma",b1,${plan[0]!.key}`,
    );
  });
});
