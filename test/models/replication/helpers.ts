/** Scenario and run helpers for the replication tests. */
import type { Checkpoint, ReplicationContext } from '../../../models/replication/context.ts';
import {
  type CheckpointPhase,
  type ReplicationResult,
  simulate as simulateReplication,
} from '../../../models/replication/index.ts';
import { resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { SpanRecorder } from '../../../sim/span-recorder.ts';

/**
 * A replication scenario with `over` merged in, section by section: a 32 MiB qemu-7.2 guest, a bare QMP
 * client, 2 s of replication in 200 ms epochs.
 */
export function scenario(over: Record<string, unknown> = {}): Scenario {
  const base: Record<string, unknown> = {
    model: 'qemu-7.2',
    seed: 1,
    vm: { memoryMiB: 32 },
    workload: { kind: 'uniform', wssMiB: 8, dirtyRateMiBps: 4 },
    libvirt: { enabled: false },
    replication: { epochMs: 200, durationS: 2, failoverSamples: 200 },
  };
  for (const [k, v] of Object.entries(over))
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(base[k] as object), ...v } : v;
  return resolveScenario(base, { file: 'test' });
}

/** Host costs that vanish, so a pause is exactly the wire time plus the round trip. */
export const FREE_HOST = { pageCopyNs: 0, bitmapSyncNsPerGiB: 0, deviceSaveMs: 0, deviceLoadMs: 0 };

/** Run the replication model directly (no spans), with version tracking and an optional checkpoint hook. */
export function run(
  s: Scenario,
  onCheckpoint?: (cp: Checkpoint, phase: CheckpointPhase, ctx: ReplicationContext) => void,
): ReplicationResult {
  return simulateReplication(s, {
    rec: (env) => new SpanRecorder(env, null, 'none'),
    trackVersions: true,
    onCheckpoint,
  });
}

/** Every checkpoint of a run (0 = the initial synchronisation's stop-and-copy), as the hook saw them. */
export function checkpoints(s: Scenario): { result: ReplicationResult; cps: Checkpoint[] } {
  const cps: Checkpoint[] = [];
  const result = run(s, (cp, phase) => {
    if (phase === 'committed') cps.push(cp);
  });
  return { result, cps };
}
