import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyCalibration,
  CALIBRATION_FORMAT,
  type Calibration,
  calibrationJson,
  defaultCalibration,
  fitCalibration,
  loadCalibration,
  type ScenarioRuns,
  zeroShare,
} from '../../../models/validate/calibration.ts';
import { resolveMatrix } from '../../../models/validate/matrix.ts';
import { simulateEntry } from '../../../models/validate/validate.ts';
import { fakeReal, realRun } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-calibration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const matrix = resolveMatrix(
  {
    name: 'cal',
    base: { model: 'qemu-7.2', seed: 42, vm: { memoryMiB: 128 }, migration: { downtimeLimitMs: 300 } },
    scenarios: [
      {
        name: 'idle',
        subset: 'calibration',
        set: { 'workload.kind': 'idle', 'migration.maxBandwidthMiBps': 32 },
      },
      {
        name: 'idle-unl',
        subset: 'calibration',
        set: { 'workload.kind': 'idle', 'migration.maxBandwidthMiBps': 0 },
      },
      {
        name: 'zipf',
        subset: 'calibration',
        set: {
          'workload.kind': 'zipf',
          'workload.wssMiB': 16,
          'workload.dirtyRateMiBps': 8,
          'migration.maxBandwidthMiBps': 0,
        },
      },
    ],
  },
  'cal.yaml',
);

/** The lab as a simulation with known host costs. */
function truth(): Calibration {
  const c = defaultCalibration();
  c.name = 'truth';
  c.host.pageCopyNs = 3000;
  c.network.bandwidthMbps = 3000;
  c.guest = { ...c.guest, memoryMiB: 128, idleNonzeroPages: 21_000, wssOnZeroFraction: 1, rateFactor: 0.9 };
  return c;
}

describe('zeroShare and applyCalibration', () => {
  const c = truth();
  it('gives the idle guest’s zero pages, less those the working set took, as a share of the rest', () => {
    const [idle, , zipf] = matrix.entries;
    expect(zeroShare(idle!.scenario, c)).toBeCloseTo((32768 - 21000) / 32768, 10);
    expect(zeroShare(zipf!.scenario, c)).toBeCloseTo((32768 - 21000 - 4096) / (32768 - 4096), 10);
    expect(zeroShare(zipf!.scenario, { ...c, guest: { ...c.guest, idleNonzeroPages: 40_000 } })).toBe(0);
  });
  it('sets the host costs, the link, the real rate and a bare QMP client', () => {
    const s = applyCalibration(matrix.entries[2]!.scenario, c);
    expect(s.host.pageCopyNs).toBe(3000);
    expect(s.network.bandwidthMbps).toBe(3000);
    expect(s.workload.dirtyRateMiBps).toBeCloseTo(7.2, 10);
    expect(s.libvirt.enabled).toBe(false);
    expect(matrix.entries[2]!.scenario.workload.dirtyRateMiBps).toBe(8); // not mutated
  });
});

describe('fitCalibration', () => {
  it('measures the guest facts and fits host costs that reproduce the runs', () => {
    const t = truth();
    const runs: ScenarioRuns[] = matrix.entries.map((entry) => ({
      entry,
      reals: [0, 1].map((r) => realRun(entry.key, r, fakeReal(simulateEntry(entry, t).result), 1.5)),
    }));
    const progress: string[] = [];
    const c = fitCalibration(runs, {
      name: 'fitted',
      matrix: 'cal.yaml',
      command: 'test',
      onProgress: (m) => progress.push(m),
    });
    expect(c.format).toBe(CALIBRATION_FORMAT);
    // Guest facts are measured, exactly here: the idle "real" runs are the truth's simulation.
    const idleZero = simulateEntry(matrix.entries[0]!, t).result.pages.uniform;
    expect(c.guest.idleNonzeroPages).toBe(32768 - idleZero);
    expect(c.guest.rateFactor).toBeCloseTo(0.9, 4);
    expect(c.fit.lossAfter!).toBeLessThan(c.fit.lossBefore!);
    expect(c.fit.lossAfter!).toBeLessThan(3);
    expect(c.fit.evaluations).toBeGreaterThan(40);
    expect(progress[0]).toMatch(/^fit pass 1: network.bandwidthMbps = /);
    expect(c.provenance).toMatchObject({
      matrix: 'cal.yaml',
      scenarios: ['idle', 'idle-unl', 'zipf'],
      realRuns: 6,
      loadavg1: [1.5, 1.5, 1.5],
    });
    expect(Object.keys(c.method)).toContain('host.pageCopyNs');
    // stored as the formatter lays it out, and read back
    const text = calibrationJson(c);
    expect(text).toContain('"loadavg1": [1.5, 1.5, 1.5],');
    expect(text).toContain('"scenarios": ["idle", "idle-unl", "zipf"],');
    expect(text.endsWith('}\n')).toBe(true);
    const f = join(dir, 'c.json');
    writeFileSync(f, text);
    expect(loadCalibration(f)).toEqual(c);
  });

  it('needs an idle scenario and a completed run', () => {
    const zipfOnly = [
      {
        entry: matrix.entries[2]!,
        reals: [realRun('k', 0, fakeReal(simulateEntry(matrix.entries[2]!, truth()).result))],
      },
    ];
    expect(() => fitCalibration(zipfOnly, { name: 'x', matrix: 'm', command: 'c' })).toThrow(
      /needs an idle scenario/,
    );
    expect(() => fitCalibration([], { name: 'x', matrix: 'm', command: 'c' })).toThrow(
      /no completed real run/,
    );
  });

  it('rejects a file that is not a calibration', () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{"format": "other"}');
    expect(() => loadCalibration(f)).toThrow(/format: expected migscope-calibration\/1/);
    expect(() => loadCalibration(join(dir, 'none.json'))).toThrow(/cannot read a calibration/);
  });
});
