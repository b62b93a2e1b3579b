/**
 * The task a sweep worker runs: simulate one resolved scenario without spans or version tracking, and keep
 * the scalar part of the result (the scenario is the run's input and the per-iteration records are left
 * out, so that a store of 10,000 runs stays small; `iterationCount` keeps their number).
 */
import type { MigrationResult } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import { simulate } from '../simulate.ts';

/** What the store keeps of a run's result. */
export type SweepOutput = Omit<MigrationResult, 'scenario' | 'iterations'> & { iterationCount: number };

/** Run one scenario (the pool calls this in a worker thread). */
export function runTask(scn: Scenario): SweepOutput {
  const {
    scenario: _scenario,
    iterations,
    ...rest
  } = simulate(scn, { granularity: 'none', trackVersions: false }).result;
  return { ...rest, iterationCount: iterations.length };
}
