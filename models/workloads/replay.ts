/**
 * workload.kind: replay — simulate the guest of a recorded run (a result.json of `migscope lab run`, or of
 * `migscope sim`): the same page-write sequence (kind, working set, zipf exponent, seed), at the rate the
 * guest really wrote (its heartbeat, extra.guestRateMiBps), with the working set where that guest's
 * allocator put it (extra.wssPlacement, unless vm.layout says otherwise). The migration, host and network
 * keys stay the scenario's, so one recorded guest can be replayed under other parameters.
 */
import { UsageError } from '../../sim/errors.ts';
import { readJsonFile } from '../json-file.ts';
import type { Scenario } from '../scenario.ts';

/** What a recorded run tells about its guest. */
export interface RecordedGuest {
  scenario: Scenario;
  /** The guest's measured page-write rate, MiB/s (real runs), or null. */
  guestRateMiBps: number | null;
  /** Whether the run recorded where its working set sat. */
  hasPlacement: boolean;
}

/** Read a recorded run's guest (kept while the file is unchanged: a sweep replays it many times). */
export function readRecordedGuest(file: string): RecordedGuest {
  return readJsonFile(file, 'workload.replay', (json) => {
    const raw = json as { scenario?: Scenario; extra?: Record<string, unknown> } | null;
    const s = raw?.scenario;
    if (!s?.workload || !s.vm || typeof s.seed !== 'number')
      throw new UsageError(
        `workload.replay: ${file}: not a result.json (no scenario with vm, workload and seed)`,
      );
    const rate = raw?.extra?.guestRateMiBps;
    return {
      scenario: s,
      guestRateMiBps: typeof rate === 'number' && rate > 0 ? rate : null,
      hasPlacement: typeof raw?.extra?.wssPlacement === 'string',
    };
  });
}

/** The concrete scenario a replay runs: the recorded guest under the scenario's migration. */
export function replayScenario(s: Scenario): Scenario {
  if (s.workload.kind !== 'replay') return s;
  const file = s.workload.replay!;
  const rec = readRecordedGuest(file);
  const w = rec.scenario.workload;
  if (w.kind === 'replay')
    throw new UsageError(`${s.name}: workload.replay: ${file} is itself a replay; give the run it replayed`);
  if (rec.scenario.vm.memoryMiB !== s.vm.memoryMiB)
    throw new UsageError(
      `${s.name}: workload.replay: ${file} ran a ${rec.scenario.vm.memoryMiB} MiB guest, the scenario has vm.memoryMiB ${s.vm.memoryMiB}`,
    );
  return {
    ...s,
    seed: rec.scenario.seed,
    vm: { ...s.vm, layout: s.vm.layout ?? (rec.hasPlacement ? file : null) },
    workload: {
      ...s.workload,
      kind: w.kind,
      wssMiB: w.wssMiB,
      zipfS: w.zipfS,
      dirtyRateMiBps: rec.guestRateMiBps ?? w.dirtyRateMiBps,
      diskWriteMiBps: s.disk ? w.diskWriteMiBps : 0,
    },
  };
}
