import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  gridPoints,
  loadMatrix,
  nameFromParams,
  realKey,
  resolveMatrix,
} from '../../../models/validate/matrix.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';

const FIX = join(REPO_ROOT, 'test/fixtures/validate');
const base = { model: 'qemu-7.2', seed: 1, vm: { memoryMiB: 128 }, migration: { maxBandwidthMiBps: 32 } };

describe('resolveMatrix', () => {
  it('applies each entry’s key changes to the base and keeps the subset', () => {
    const m = resolveMatrix(
      {
        name: 'm',
        repeats: 2,
        base,
        scenarios: [
          { name: 'a', subset: 'calibration', set: { 'workload.kind': 'idle' } },
          { set: { 'workload.kind': 'zipf', 'workload.dirtyRateMiBps': 8, 'workload.wssMiB': 16 } },
        ],
      },
      'm.yaml',
    );
    expect(m.repeats).toBe(2);
    expect(m.entries.map((e) => [e.name, e.subset])).toEqual([
      ['a', 'calibration'],
      ['kind=zipf,dirtyRateMiBps=8,wssMiB=16', 'test'],
    ]);
    const b = m.entries[1]!.scenario;
    expect(b.workload).toMatchObject({ kind: 'zipf', dirtyRateMiBps: 8, wssMiB: 16 });
    expect(b.migration.maxBandwidthMiBps).toBe(32);
    expect(b.name).toBe('kind=zipf,dirtyRateMiBps=8,wssMiB=16');
  });

  it('expands grids into every combination, the last parameter fastest', () => {
    expect(gridPoints({ a: [1, 2], b: ['x', 'y', 'z'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    const m = resolveMatrix(
      {
        base,
        grids: [
          {
            subset: 'calibration',
            prefix: 'g',
            parameters: {
              'migration.maxBandwidthMiBps': [16, 64],
              'migration.downtimeLimitMs': [30, 100, 300],
            },
          },
        ],
      },
      'g.yaml',
    );
    expect(m.entries).toHaveLength(6);
    expect(m.entries[1]!.name).toBe('g:maxBandwidthMiBps=16,downtimeLimitMs=100');
    expect(m.entries[5]!.scenario.migration).toMatchObject({ maxBandwidthMiBps: 64, downtimeLimitMs: 300 });
    expect(m.entries.every((e) => e.subset === 'calibration')).toBe(true);
    expect(m.repeats).toBe(3);
  });

  it('names lists and keys in default names', () => {
    expect(nameFromParams({ 'migration.capabilities': ['auto-converge'], 'vm.memoryMiB': 64 })).toBe(
      'capabilities=auto-converge,memoryMiB=64',
    );
    expect(nameFromParams({ 'migration.capabilities': [] })).toBe('capabilities=none');
  });

  it('fails with one line naming the entry and key', () => {
    const bad = (raw: unknown) => () => resolveMatrix(raw, 'bad.yaml');
    expect(bad({ base, scenarios: [{ set: { 'workload.kind': 'walk' } }] })).toThrow(
      /bad.yaml: scenarios\[0\] \(kind=walk\): workload.kind: unknown value "walk"/,
    );
    expect(bad({ base, scenarios: [{ subset: 'train' }] })).toThrow(
      /scenarios\[0\].subset: expected calibration or test/,
    );
    expect(bad({ base, scenarios: [{ name: 'a' }, { name: 'a' }] })).toThrow(/duplicate scenario name "a"/);
    expect(bad({ base, scenarios: [] })).toThrow(/the matrix has no scenarios/);
    expect(bad({ base, repeats: 0, scenarios: [{}] })).toThrow(
      /repeats: expected a whole number from 1 to 100/,
    );
    expect(bad({ base, scenarios: [{}], extra: 1 })).toThrow(/bad.yaml: extra: unknown key/);
    expect(bad({ base: { ...base, model: 'qemu-0.12.3' }, scenarios: [{}] })).toThrow(
      /the lab runs QEMU 7.2/,
    );
    expect(bad({ base, grids: [{ parameters: { 'vm.memoryMiB': [] } }] })).toThrow(
      /grids\[0\].parameters.vm.memoryMiB/,
    );
  });
});

describe('realKey', () => {
  const one = (set: Record<string, unknown>, name = 'a') =>
    resolveMatrix({ base, scenarios: [{ name, set }] }, 'k.yaml').entries[0]!;
  it('ignores the name and the simulator-only keys, and changes with what the lab runs', () => {
    const a = one({ 'workload.kind': 'idle' });
    expect(one({ 'workload.kind': 'idle' }, 'renamed').key).toBe(a.key);
    expect(one({ 'workload.kind': 'idle', 'host.pageCopyNs': 5, 'vm.uniformPageFraction': 0.1 }).key).toBe(
      a.key,
    );
    expect(one({ 'workload.kind': 'idle', 'libvirt.enabled': false, 'network.bandwidthMbps': 5 }).key).toBe(
      a.key,
    );
    expect(one({ 'workload.kind': 'idle', 'migration.downtimeLimitMs': 100 }).key).not.toBe(a.key);
    expect(one({ 'workload.kind': 'idle', seed: 2 }).key).not.toBe(a.key);
    expect(realKey(a.scenario)).toBe(a.key);
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the shipped matrices', () => {
  it('full.yaml has ≥ 24 scenarios over every workload kind, with auto-converge and block migration in both subsets', () => {
    const m = loadMatrix(join(FIX, 'full.yaml'));
    expect(m.entries.length).toBeGreaterThanOrEqual(24);
    expect(m.repeats).toBeGreaterThanOrEqual(3);
    const kinds = new Set(m.entries.map((e) => e.scenario.workload.kind));
    expect([...kinds].sort()).toEqual(['idle', 'sequential', 'uniform', 'zipf']);
    for (const subset of ['calibration', 'test'] as const) {
      const sub = m.entries.filter((e) => e.subset === subset);
      expect(sub.some((e) => e.scenario.migration.capabilities.includes('auto-converge'))).toBe(true);
      expect(sub.some((e) => e.scenario.disk?.migrate)).toBe(true);
    }
    expect(m.entries.some((e) => e.subset === 'calibration' && e.scenario.workload.kind === 'idle')).toBe(
      true,
    );
    expect(new Set(m.entries.map((e) => e.key)).size).toBe(m.entries.length);
    const axes = (f: (e: (typeof m.entries)[number]) => unknown) => new Set(m.entries.map(f)).size;
    expect(axes((e) => e.scenario.workload.wssMiB)).toBeGreaterThanOrEqual(3);
    expect(axes((e) => e.scenario.workload.dirtyRateMiBps)).toBeGreaterThanOrEqual(3);
    expect(axes((e) => e.scenario.migration.maxBandwidthMiBps)).toBeGreaterThanOrEqual(3);
    expect(axes((e) => e.scenario.migration.downtimeLimitMs)).toBeGreaterThanOrEqual(3);
  });
  it('ci.yaml is small (≤ 3 scenarios, none with block migration or auto-converge) and a subset of full.yaml', () => {
    const m = loadMatrix(join(FIX, 'ci.yaml'));
    const full = loadMatrix(join(FIX, 'full.yaml'));
    expect(m.entries.length).toBeLessThanOrEqual(3);
    for (const e of m.entries) {
      expect(e.scenario.disk).toBeNull();
      expect(e.scenario.migration.capabilities).toEqual([]);
      expect(full.entries.find((f) => f.name === e.name)?.key).toBe(e.key);
    }
  });
});
