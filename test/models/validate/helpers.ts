/** Shared fixtures of the validation tests: simulated results dressed as real runs, stub lab runners. */
import type { MigrationResult } from '../../../models/result.ts';
import { resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { simulate } from '../../../models/simulate.ts';
import type { RealRun } from '../../../models/validate/real-cache.ts';

/** A small qemu-7.2 lab-like scenario. */
export function labScenario(name: string, extra: Record<string, unknown> = {}): Scenario {
  return resolveScenario({
    name,
    model: 'qemu-7.2',
    seed: 42,
    vm: { memoryMiB: 128, uniformPageFraction: 0.3 },
    workload: { kind: 'zipf', wssMiB: 32, dirtyRateMiBps: 8 },
    migration: { maxBandwidthMiBps: 64, downtimeLimitMs: 300, timeoutS: 60 },
    libvirt: { enabled: false },
    ...extra,
  });
}

/** The simulator's result for a lab-like scenario. */
export function simResult(name: string, s: Scenario = labScenario(name)): MigrationResult {
  return simulate(s, { granularity: 'none', trackVersions: false }).result;
}

/** A simulated result shaped like a real one: source real, QEMU's source-side downtime, no device bytes. */
export function fakeReal(r: MigrationResult, scale = 1): MigrationResult {
  const completed = r.outcome === 'completed';
  return {
    ...r,
    source: 'real',
    totalTimeMs: r.totalTimeMs * scale,
    downtimeMs: completed
      ? (r.downtimeBreakdown.finalPassMs! + Number(r.extra.preSwitchoverWaitMs)) * scale
      : null,
    bytes: { total: r.bytes.ram + r.bytes.block, ram: r.bytes.ram, block: r.bytes.block, device: null },
    extra: { ...r.extra, guestRateMiBps: r.scenario.workload.dirtyRateMiBps, qemuVersion: '7.2.22' },
  };
}

/** A cache record around a result. */
export function realRun(key: string, repeat: number, result: MigrationResult, load = 0.5): RealRun {
  return {
    key,
    repeat,
    measuredAt: `2026-11-27T18:0${repeat}:00.000Z`,
    loadavg: [load, load, load],
    cpus: 2,
    wallS: 7,
    result,
  };
}
