import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCalibration } from '../../../models/validate/calibration.ts';
import {
  DEFAULT_CALIBRATION,
  DEFAULT_REAL_CACHE,
  parseValidateArgs,
} from '../../../models/validate/command.ts';
import { loadMatrix } from '../../../models/validate/matrix.ts';
import { collectRealRuns, simulateEntry } from '../../../models/validate/validate.ts';
import { mainCaptured } from '../../helpers/cli.ts';
import { fakeReal } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-validate-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const matrixFile = join(dir, 'm.yaml');
const calFile = join(dir, 'cal.json');
const cache = join(dir, 'cache');

beforeAll(async () => {
  writeFileSync(
    matrixFile,
    `name: cmd
repeats: 2
base: { model: qemu-7.2, seed: 42, vm: { memoryMiB: 128 }, migration: { timeoutS: 30 } }
scenarios:
  - { name: idle, subset: calibration, set: { workload.kind: idle, migration.maxBandwidthMiBps: 64 } }
  - { name: zipf, set: { workload.kind: zipf, workload.wssMiB: 16, workload.dirtyRateMiBps: 8, migration.maxBandwidthMiBps: 0 } }
`,
  );
  const c = defaultCalibration();
  c.name = 'cmd-cal';
  c.guest = { ...c.guest, memoryMiB: 128, idleNonzeroPages: 22_000 };
  writeFileSync(calFile, JSON.stringify(c));
  const m = loadMatrix(matrixFile);
  let k = 0;
  await collectRealRuns(m, {
    cacheDir: cache,
    repeats: 2,
    runner: async (s) => ({
      result: fakeReal(simulateEntry({ ...m.entries[0]!, scenario: s }, c).result, 1 + 0.02 * k++),
      trace: null,
    }),
  });
});

const cli = mainCaptured;

describe('parseValidateArgs', () => {
  it('has defaults for the cache and the calibration', () => {
    const a = parseValidateArgs(['run', 'm.yaml']);
    expect(a).toMatchObject({
      sub: 'run',
      matrix: 'm.yaml',
      realCache: DEFAULT_REAL_CACHE,
      calibration: DEFAULT_CALIBRATION,
      repeats: null,
    });
    expect(parseValidateArgs(['run', 'm.yaml', '--repeats', '5', '--calibration', 'fit']).repeats).toBe(5);
  });
  it('names the flag at fault', () => {
    expect(() => parseValidateArgs(['walk', 'm.yaml'])).toThrow(/expected run, calibrate or dataset/);
    expect(() => parseValidateArgs(['run'])).toThrow(/expected one MATRIX file/);
    expect(() => parseValidateArgs(['run', 'm.yaml', '--repeats', '0'])).toThrow(
      /--repeats: expected a whole number/,
    );
    expect(() => parseValidateArgs(['dataset', 'm.yaml'])).toThrow(/--output FILE is required/);
    expect(() => parseValidateArgs(['calibrate', 'm.yaml', '--no-compare'])).toThrow(
      /--no-compare does not apply/,
    );
    expect(() => parseValidateArgs(['run', 'm.yaml', '--bogus'])).toThrow(
      /validate: Unknown option '--bogus'/,
    );
  });
});

describe('migscope validate (cached runs only)', () => {
  it('run writes JSON, CSV, tables, the dataset, index.html and the comparison pages', async () => {
    const out = join(dir, 'out');
    const r = await cli([
      'validate',
      'run',
      matrixFile,
      '--cached-only',
      '--real-cache',
      cache,
      '--calibration',
      calFile,
      '--out',
      out,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^cmd: 2 scenarios, calibration cmd-cal/);
    for (const f of [
      'validation.json',
      'errors.csv',
      'summary.csv',
      'tables.md',
      'dataset.jsonl',
      'index.html',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, 'runs/zipf/compare/compare.html'))).toBe(true);
    expect(existsSync(join(out, 'runs/zipf/sim/result.json'))).toBe(true);
    const v = JSON.parse(readFileSync(join(out, 'validation.json'), 'utf8'));
    expect(v.scenarios).toHaveLength(2);
    expect(v.scenarios[1].real.repeats).toBe(2);
    expect(readFileSync(join(out, 'dataset.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
  it('run --calibration fit fits on the calibration subset and stores it beside the results', async () => {
    const out = join(dir, 'out-fit');
    const r = await cli([
      'validate',
      'run',
      matrixFile,
      '--cached-only',
      '--real-cache',
      cache,
      '--calibration',
      'fit',
      '--out',
      out,
      '--no-compare',
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/fit Nelder-Mead: loss/);
    const c = JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8'));
    expect(c.provenance.scenarios).toEqual(['idle']);
    expect(existsSync(join(out, 'runs'))).toBe(false);
  });
  it('asking for more repeats than cached exits 3 and says which scenarios lack runs', async () => {
    const r = await cli([
      'validate',
      'run',
      matrixFile,
      '--cached-only',
      '--real-cache',
      cache,
      '--calibration',
      calFile,
      '--out',
      join(dir, 'o3'),
      '--repeats',
      '3',
      '--no-compare',
    ]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/2 scenarios have fewer real runs than asked \(idle, zipf\)/);
    expect(r.err).toMatch(/real 3\/6 idle r2: missing \(not cached\)/);
  });
  it('dataset and calibrate work from the cache', async () => {
    const ds = join(dir, 'd/ds.jsonl');
    expect(
      (
        await cli([
          'validate',
          'dataset',
          matrixFile,
          '--real-cache',
          cache,
          '--calibration',
          calFile,
          '--output',
          ds,
        ])
      ).code,
    ).toBe(0);
    expect(readFileSync(ds, 'utf8').split('\n')[0]).toMatch(/^\{"format":"migscope-validation-dataset\/1"/);
    const cf = join(dir, 'cal-out.json');
    const r = await cli([
      'validate',
      'calibrate',
      matrixFile,
      '--cached-only',
      '--real-cache',
      cache,
      '--output',
      cf,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/calibration qemu-7.2-lab-tcg \(2 real runs of 1 scenarios/);
  });
  it('a bad matrix is one line and exit code 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'base: { model: qemu-7.2 }\nscenarios: [ { set: { workload.kind: walk } } ]\n');
    const r = await cli(['validate', 'run', bad, '--cached-only']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^migscope: .*bad.yaml: scenarios\[0\] \(kind=walk\): workload.kind: unknown value "walk"/,
    );
  });
});
