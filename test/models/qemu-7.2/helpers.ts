/** Scenario and run helpers for the QEMU 7.2 model tests. */
import { resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { type SimulatedRun, simulate } from '../../../models/simulate.ts';
import { ContentModel } from '../../../models/workloads/content.ts';
import type { Granularity } from '../../../sim/span-recorder.ts';

/** A resolved qemu-7.2 scenario from a partial raw one (small VM, bare QMP client unless overridden). */
export function scenario(raw: Record<string, unknown>): Scenario {
  return resolveScenario({ model: 'qemu-7.2', seed: 1, vm: { memoryMiB: 32 }, ...raw });
}

/** Run a scenario with version tracking on. */
export function run(s: Scenario, granularity: Granularity = 'none'): SimulatedRun {
  return simulate(s, { granularity, trackVersions: true });
}

/** How many pages of a never-written VM are zero pages under the scenario's content model. */
export function zeroPages(s: Scenario): number {
  const content = new ContentModel(s.seed, s.vm.uniformPageFraction);
  const pages = s.vm.memoryMiB * 256;
  let n = 0;
  for (let p = 0; p < pages; p++) if (content.initiallyUniform(p)) n++;
  return n;
}
