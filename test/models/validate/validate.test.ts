import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../../models/scenario.ts';
import { applyCalibration, defaultCalibration } from '../../../models/validate/calibration.ts';
import { resolveMatrix } from '../../../models/validate/matrix.ts';
import {
  type LabOutcome,
  readRealRuns,
  realRunFile,
  realTraceFile,
} from '../../../models/validate/real-cache.ts';
import { collectRealRuns, simulateEntry, validateMatrix } from '../../../models/validate/validate.ts';
import { fakeReal } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const matrix = resolveMatrix(
  {
    name: 'stub',
    repeats: 3,
    base: { model: 'qemu-7.2', seed: 42, vm: { memoryMiB: 128 }, libvirt: { enabled: false } },
    scenarios: [
      {
        name: 'idle',
        subset: 'calibration',
        set: { 'workload.kind': 'idle', 'migration.maxBandwidthMiBps': 64 },
      },
      {
        name: 'zipf',
        set: {
          'workload.kind': 'zipf',
          'workload.wssMiB': 16,
          'workload.dirtyRateMiBps': 8,
          'migration.maxBandwidthMiBps': 32,
        },
      },
    ],
  },
  'stub.yaml',
);
const cal = { ...defaultCalibration(), name: 'test' };
cal.guest = { ...cal.guest, memoryMiB: 128, idleNonzeroPages: 22_000 };

/** A stub lab: the calibrated simulation dressed as a real run, each call 1 % slower than the last. */
function stubLab(failFirst = false) {
  const calls: string[] = [];
  let n = 0;
  const runner = async (s: Scenario): Promise<LabOutcome> => {
    calls.push(s.name);
    n++;
    const sim = simulateEntry({ ...matrix.entries[0]!, scenario: s }, cal).result;
    if (failFirst && n === 1) return { result: { ...fakeReal(sim), outcome: 'failed' }, trace: null };
    return { result: fakeReal(sim, 1 + 0.01 * (n % 3)), trace: `{"trace": ${n}}\n` };
  };
  return { runner, calls };
}

describe('collectRealRuns', () => {
  it('runs the missing repeats one at a time, caches them, and reuses the cache', async () => {
    const cacheDir = join(dir, 'cache1');
    const lab = stubLab();
    const runs = await collectRealRuns(matrix, { cacheDir, repeats: 3, runner: lab.runner });
    expect(lab.calls).toEqual(['idle', 'idle', 'idle', 'zipf', 'zipf', 'zipf']);
    expect(runs.map((r) => r.reals.map((x) => x.repeat))).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(readdirSync(join(cacheDir, matrix.entries[0]!.key)).sort()).toEqual([
      'r0.json',
      'r0.trace.otlp.jsonl',
      'r1.json',
      'r1.trace.otlp.jsonl',
      'r2.json',
      'r2.trace.otlp.jsonl',
    ]);
    expect(readFileSync(realTraceFile(cacheDir, matrix.entries[0]!.key, 1), 'utf8')).toBe('{"trace": 2}\n');
    const r0 = readRealRuns(cacheDir, matrix.entries[1]!.key)[0]!;
    expect(r0.loadavg).toHaveLength(3);
    expect(r0.result.source).toBe('real');
    // again, with one more repeat and one repeat deleted: only those two run
    rmSync(realRunFile(cacheDir, matrix.entries[1]!.key, 1));
    const lab2 = stubLab();
    const progress: string[] = [];
    await collectRealRuns(matrix, {
      cacheDir,
      repeats: 4,
      runner: lab2.runner,
      onProgress: (p) => progress.push(`${p.entry.name}/${p.repeat}:${p.cached ? 'cached' : 'ran'}`),
    });
    expect(lab2.calls).toEqual(['idle', 'zipf', 'zipf']);
    expect(progress).toEqual([
      'idle/0:cached',
      'idle/1:cached',
      'idle/2:cached',
      'idle/3:ran',
      'zipf/0:cached',
      'zipf/1:ran',
      'zipf/2:cached',
      'zipf/3:ran',
    ]);
  });

  it('never runs QEMU without a runner, and skips a half-written file', async () => {
    const cacheDir = join(dir, 'cache2');
    await collectRealRuns(matrix, { cacheDir, repeats: 1, runner: stubLab().runner });
    writeFileSync(realRunFile(cacheDir, matrix.entries[0]!.key, 1), '{"key": ');
    const runs = await collectRealRuns(matrix, { cacheDir, repeats: 2, runner: null });
    expect(runs.map((r) => r.reals.length)).toEqual([1, 1]);
  });

  it('tries a lab failure once more before storing it', async () => {
    const cacheDir = join(dir, 'cache3');
    const lab = stubLab(true);
    const runs = await collectRealRuns(matrix, {
      cacheDir,
      repeats: 1,
      runner: lab.runner,
      filter: (e) => e.name === 'idle',
    });
    expect(lab.calls).toEqual(['idle', 'idle']);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.reals[0]!.result.outcome).toBe('completed');
  });
});

describe('validateMatrix', () => {
  it('scores a perfect model at 0 % and the real spread from the repeats', async () => {
    const cacheDir = join(dir, 'cache4');
    const runs = await collectRealRuns(matrix, { cacheDir, repeats: 3, runner: stubLab().runner });
    // The repeats are the simulation × 1.00, 1.01, 1.02 (in some order) on total time and downtime.
    const v = validateMatrix(matrix, runs, cal);
    expect(v.scenarios.map((s) => [s.name, s.subset])).toEqual([
      ['idle', 'calibration'],
      ['zipf', 'test'],
    ]);
    const z = v.scenarios[1]!;
    expect(z.real.figures).toHaveLength(3);
    expect(z.errors.sim.bytes).toEqual({ n: 3, p50: 0, p90: 0 });
    expect(z.errors.sim.iterations.p90).toBe(0);
    expect(z.errors.sim.totalTimeMs.p50!).toBeCloseTo((0.01 / 1.01) * 100, 6);
    expect(z.errors.spread.totalTimeMs.n).toBe(3);
    expect(z.errors.spread.bytes.p90).toBe(0);
    expect(z.outcomeMatch).toEqual({ sim: true, fluid: true });
    // (32768 - 22000 - 4096 working-set pages) / (32768 - 4096) of the pages outside the working set are zero
    expect(z.sim.uniformPageFraction).toBeCloseTo((32768 - 22000 - 4096) / (32768 - 4096), 4);
    expect(applyCalibration(matrix.entries[1]!.scenario, cal).libvirt.enabled).toBe(false);
    expect(v.overall.test.scenarios).toBe(1);
    expect(v.overall.test.pairs).toBe(3);
    expect(v.overall.all.pairs).toBe(6);
    expect(v.overall.calibration.sim.bytes.p90).toBe(0);
    expect(v.loadavg1).toHaveLength(3);
    expect(v.loadavg1![0]).toBeLessThanOrEqual(v.loadavg1![2]);
  });
});
