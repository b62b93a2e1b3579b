import { describe, expect, it } from 'vitest';
import { planSweep, setPath } from '../../../models/sweep/plan.ts';
import { loadSweepSpec, resolveSweepSpec } from '../../../models/sweep/spec.ts';
import { contentHash } from '../../../sim/sweep/hash.ts';

const FIXTURES = new URL('../../fixtures/sweep/', import.meta.url).pathname;

describe('planSweep', () => {
  const spec = loadSweepSpec(`${FIXTURES}small-grid.yaml`);
  const plan = planSweep(spec);

  it('resolves every point x repeat into a full scenario with the parameters set', () => {
    expect(plan).toHaveLength(3 * 3 * 2);
    for (const run of plan) {
      expect(run.invalid).toBeNull();
      expect(run.scenario!.migration.maxBandwidthMiBps).toBe(run.params['migration.maxBandwidthMiBps']);
      expect(run.scenario!.workload.dirtyRateMiBps).toBe(run.params['workload.dirtyRateMiBps']);
      expect(run.scenario!.host.pageCopyNs).toBe(900); // defaults filled in
      expect(run.scenario!.seed).toBe(run.seed);
    }
    expect(plan.map((r) => r.params['workload.dirtyRateMiBps'])).toContain(8);
  });

  it('keys each run by the sha256 of its resolved scenario', () => {
    for (const run of plan) expect(run.key).toBe(contentHash(run.scenario));
    expect(new Set(plan.map((r) => r.key)).size).toBe(plan.length);
  });

  it('derives a different seed per repeat, and the same seeds every time', () => {
    expect(plan[0]!.params).toEqual(plan[1]!.params);
    expect(plan[0]!.seed).not.toBe(plan[1]!.seed);
    expect(planSweep(spec)).toEqual(plan);
    expect(new Set(plan.map((r) => r.seed)).size).toBe(plan.length);
  });

  it('keeps the keys of existing runs when a value is added to the spec', () => {
    const raw = {
      scenario: spec.base,
      seed: 7,
      repeats: 2,
      parameters: {
        'migration.maxBandwidthMiBps': [8, 16, 32, 128],
        'workload.dirtyRateMiBps': { from: 1, to: 64, steps: 3, scale: 'log' },
      },
    };
    const bigger = planSweep(resolveSweepSpec(raw, 'x.yaml'));
    const keys = new Set(bigger.map((r) => r.key));
    expect(plan.every((r) => keys.has(r.key))).toBe(true);
    expect(bigger).toHaveLength(24);
  });

  it('changes every key with the sweep seed', () => {
    const other = planSweep({ ...spec, design: { ...spec.design, seed: 8 } });
    const keys = new Set(plan.map((r) => r.key));
    expect(other.some((r) => keys.has(r.key))).toBe(false);
  });

  it('plans a combination the scenario rules reject as an invalid run with the reason', () => {
    const mixed = planSweep(loadSweepSpec(`${FIXTURES}mixed.yaml`));
    expect(mixed.map((r) => r.invalid === null)).toEqual([false, false, true, true]);
    expect(mixed[0]!.invalid).toBe('run 0: workload.wssMiB: working set (128 MiB) exceeds vm.memoryMiB (64)');
    expect(mixed[0]!.scenario).toBeNull();
    expect(mixed[0]!.key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('draws lhs points into resolved scenarios with integer keys kept whole', () => {
    const lhs = planSweep(
      resolveSweepSpec(
        {
          sampler: 'lhs',
          samples: 8,
          parameters: {
            'vm.vcpus': { from: 1, to: 8 },
            'network.rttMs': { from: 0.1, to: 10, scale: 'log' },
          },
        },
        'x.yaml',
      ),
    );
    expect(lhs).toHaveLength(8);
    expect(lhs.every((r) => r.invalid === null && Number.isInteger(r.scenario!.vm.vcpus))).toBe(true);
    expect(new Set(lhs.map((r) => r.scenario!.vm.vcpus)).size).toBe(8);
  });
});

describe('setPath', () => {
  it('creates sections on the way and copies values', () => {
    const raw: Record<string, unknown> = { disk: null };
    const caps = ['xbzrle'];
    setPath(raw, 'disk.sizeMiB', 10);
    setPath(raw, 'migration.capabilities', caps);
    caps.push('x');
    expect(raw).toEqual({ disk: { sizeMiB: 10 }, migration: { capabilities: ['xbzrle'] } });
  });
});
