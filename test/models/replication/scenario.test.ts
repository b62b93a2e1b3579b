/**
 * The replication section of a scenario: optional (absent, scenarios resolve exactly as before), defaults
 * filled in, bad values rejected with the key named; simulate() routes it to the replication model; the
 * example sweep plans and runs like any other.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REMUS_DEFAULT_INTERVAL_MS } from '../../../models/replication/constants.ts';
import type { ReplicationResult } from '../../../models/replication/index.ts';
import { loadScenario, resolveScenario } from '../../../models/scenario.ts';
import { simulate } from '../../../models/simulate.ts';
import { planSweep } from '../../../models/sweep/plan.ts';
import { loadSweepSpec } from '../../../models/sweep/spec.ts';
import { runTask } from '../../../models/sweep/task.ts';
import { UsageError } from '../../../sim/errors.ts';
import { flattenScalars } from '../../../sim/sweep/csv.ts';

const fixtures = join(process.cwd(), 'test', 'fixtures', 'replication');

describe('the replication section', () => {
  it('is left out when absent, so plain scenarios resolve as before', () => {
    const s = resolveScenario({ model: 'qemu-7.2' });
    expect('replication' in s).toBe(false);
    expect('replication' in resolveScenario({ replication: null })).toBe(false);
  });

  it('fills in Remus-like defaults', () => {
    const s = resolveScenario({ model: 'qemu-7.2', replication: {} });
    expect(s.replication).toEqual({
      trigger: 'periodic',
      epochMs: REMUS_DEFAULT_INTERVAL_MS,
      durationS: 10,
      outputBuffering: true,
      outputPacketsPerS: 1000,
      failoverSamples: 1000,
      ackAfterLoad: false,
    });
  });

  it('rejects bad values, naming the key', () => {
    expect(() => resolveScenario({ replication: { epochMs: 0 } })).toThrow(
      /replication\.epochMs: must be > 0/,
    );
    expect(() => resolveScenario({ replication: { failoverSamples: 1.5 } })).toThrow(UsageError);
    expect(() => resolveScenario({ replication: { epochs: 3 } })).toThrow(/replication\.epochs: unknown key/);
    expect(() =>
      resolveScenario({ replication: {}, disk: { sizeMiB: 32, allocatedMiB: 8, migrate: true } }),
    ).toThrow(/disk\.migrate/);
  });

  it('routes simulate() to the replication model', () => {
    const s = resolveScenario({
      model: 'qemu-0.12.3',
      vm: { memoryMiB: 16 },
      replication: { durationS: 0.3, failoverSamples: 10 },
    });
    const { result } = simulate(s, { granularity: 'none' });
    expect(result.model).toBe('replication');
    expect(result.outcome).toBe('completed');
    expect(result.iterations.length).toBeGreaterThan(0);
  });

  it('reports a timeout when the initial synchronisation does not converge', () => {
    const s = resolveScenario({
      model: 'qemu-7.2',
      vm: { memoryMiB: 16 },
      workload: { kind: 'uniform', wssMiB: 16, dirtyRateMiBps: 64 },
      migration: { maxBandwidthMiBps: 8, downtimeLimitMs: 30, timeoutS: 3 },
      replication: { durationS: 1 },
    });
    const result = simulate(s, { granularity: 'none' }).result as ReplicationResult;
    expect(result.outcome).toBe('timeout');
    expect(result.converged).toBe(false);
    expect(result.iterations).toEqual([]);
    expect(result.replication).toBeNull();
    expect(result.message).toMatch(/did not converge/);
  });
});

describe('the example sweep', () => {
  const spec = loadSweepSpec(join(fixtures, 'sweep.yaml'));
  const plan = planSweep(spec);

  it('plans epoch length × dirty rate, every run valid', () => {
    expect(plan).toHaveLength(8 * 5);
    expect(plan.every((p) => p.invalid === null)).toBe(true);
    expect(new Set(plan.map((p) => p.scenario!.replication!.epochMs)).size).toBe(8);
    expect(new Set(plan.map((p) => p.scenario!.workload.dirtyRateMiBps)).size).toBe(5);
  });

  it('runs a point as a sweep task, with the replication figures as CSV columns', () => {
    const s = plan[0]!.scenario!;
    const out = runTask({ ...s, replication: { ...s.replication!, durationS: 0.5 } });
    const cols = flattenScalars(out);
    expect(cols['replication.pauseMs.mean']).toBeGreaterThan(0);
    expect(cols['replication.output.releaseDelayMs.p99']).toBeGreaterThan(0);
    expect(cols['replication.failover.unackedBytes.mean']).toBeGreaterThan(0);
  });

  it('its base scenario loads', () => {
    const s = loadScenario(join(fixtures, 'remus-zipf.yaml'));
    expect(s.replication!.epochMs).toBe(200);
  });
});
