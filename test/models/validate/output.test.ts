import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScenarioRuns } from '../../../models/validate/calibration.ts';
import { defaultCalibration, nelderMead } from '../../../models/validate/calibration.ts';
import { DATASET_FORMAT, datasetJsonl, ITERATION_FIELDS } from '../../../models/validate/dataset.ts';
import { resolveMatrix } from '../../../models/validate/matrix.ts';
import {
  ERRORS_CSV_COLUMNS,
  errorsCsv,
  indexHtml,
  markdownTables,
  SUMMARY_CSV_COLUMNS,
  summaryCsv,
  textSummary,
} from '../../../models/validate/output.ts';
import { simulateEntry, type Validation, validateMatrix } from '../../../models/validate/validate.ts';
import { fakeReal, realRun } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-validate-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const matrix = resolveMatrix(
  {
    name: 'out',
    base: { model: 'qemu-7.2', seed: 42, vm: { memoryMiB: 128 } },
    scenarios: [
      {
        name: 'idle, 32',
        subset: 'calibration',
        set: { 'workload.kind': 'idle', 'migration.maxBandwidthMiBps': 32 },
      },
      {
        name: 'seq',
        set: {
          'workload.kind': 'sequential',
          'workload.wssMiB': 16,
          'workload.dirtyRateMiBps': 4,
          'migration.maxBandwidthMiBps': 64,
        },
      },
    ],
  },
  'out.yaml',
);
const cal = defaultCalibration();
cal.name = 'c1';
cal.guest = { ...cal.guest, memoryMiB: 128, idleNonzeroPages: 22_000 };
let runs: ScenarioRuns[];
let v: Validation;

beforeAll(() => {
  runs = matrix.entries.map((entry) => ({
    entry,
    reals: [1, 1.1, 1.2].map((k, r) => realRun(entry.key, r, fakeReal(simulateEntry(entry, cal).result, k))),
  }));
  v = validateMatrix(matrix, runs, cal);
});

describe('errors.csv and summary.csv', () => {
  it('has one row per scenario and metric, with the real median, spread and both predictors', () => {
    const lines = errorsCsv(v).trim().split('\n');
    expect(lines[0]).toBe(ERRORS_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 2 * 4);
    // the comma in the scenario name is quoted
    expect(lines[1]).toMatch(/^"idle, 32",calibration,totalTimeMs,3,/);
    const row = Object.fromEntries(lines[5]!.split(',').map((x, i) => [ERRORS_CSV_COLUMNS[i], x]));
    expect(row).toMatchObject({ scenario: 'seq', subset: 'test', metric: 'totalTimeMs', real_repeats: '3' });
    // the sim equals the ×1 repeat; the median repeat is ×1.1 → APE 1/11
    expect(Number(row.real_median)).toBeCloseTo(Number(row.sim) * 1.1, 0);
    expect(Number(row.sim_ape_p50)).toBeCloseTo((0.1 / 1.1) * 100, 1);
    expect(row.sim_outcome).toBe('completed');
    expect(row.real_outcome).toBe('completed+completed+completed');
  });
  it('summary.csv pools every pair per subset with the targets', () => {
    const lines = summaryCsv(v).trim().split('\n');
    expect(lines[0]).toBe(SUMMARY_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 3 * 4);
    expect(lines[1]).toMatch(/^test,totalTimeMs,1,3,/);
    expect(lines[1]!.endsWith(',5')).toBe(true);
    expect(lines[3]).toMatch(/^test,downtimeMs,.*,20$/);
    expect(lines[4]).toMatch(/^test,iterations,.*,$/);
  });
  it('the validation is plain JSON', () => {
    const back = JSON.parse(JSON.stringify(v)) as Validation;
    expect(back.scenarios[1]!.errors.sim.bytes.n).toBe(3);
    expect(back.format).toBe('migscope-validation/1');
  });
});

describe('tables', () => {
  it('Markdown, text and HTML name every scenario and the targets', () => {
    const md = markdownTables(v);
    expect(md).toContain('| test (1 scn, 3 runs) | total time |');
    expect(md).toContain('| seq | test |');
    const txt = textSummary(v);
    expect(txt).toMatch(/^out: 2 scenarios, calibration c1/);
    expect(txt).toMatch(/test \(1 scenarios, 3 real runs\)/);
    expect(txt).toMatch(/misses the p90 target on: total time/);
    const html = indexHtml(v, { seq: 'runs/seq/compare/compare.html' });
    expect(html).toContain('<a href="runs/seq/compare/compare.html">seq</a>');
    expect(html).toContain('idle, 32');
  });
});

describe('dataset.jsonl', () => {
  it('one compact line per scenario with sim, fluid and every real repeat and their iteration series', () => {
    const text = datasetJsonl(runs, cal, 'out');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    const d = lines[1];
    expect(d).toMatchObject({
      format: DATASET_FORMAT,
      matrix: 'out',
      scenario: 'seq',
      subset: 'test',
      calibration: 'c1',
    });
    expect(d.lab).toMatchObject({
      workload: 'sequential',
      wssMiB: 16,
      dirtyRateMiBps: 4,
      maxBandwidthMiBps: 64,
    });
    expect(d.real).toHaveLength(3);
    expect(d.real[0].loadavg1).toBe(0.5);
    const it0 = d.sim.iterations[0];
    expect(it0).toHaveLength(ITERATION_FIELDS.length);
    expect(d.sim.iterations.length).toBe(d.sim.syncs);
    expect(d.fluid.rounds[0][0]).toBe(1);
    expect(text.length).toBeLessThan(20_000);
  });
});

describe('nelderMead', () => {
  it('finds the minimum of a shifted quadratic bowl', () => {
    const r = nelderMead((x) => (x[0]! - 3) ** 2 + 10 * (x[1]! + 1) ** 2, [0, 0], [1, 1], 300);
    expect(r.x[0]).toBeCloseTo(3, 3);
    expect(r.x[1]).toBeCloseTo(-1, 3);
    expect(r.evals).toBeLessThanOrEqual(302);
  });
});
