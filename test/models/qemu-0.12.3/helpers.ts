/** Shared helpers for the 0.12.3 model tests. */
import { resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { type SimulatedRun, simulate } from '../../../models/simulate.ts';

/** A scenario for qemu-0.12.3 with `over` merged in (sections merge key by key). */
export function scenario(over: Record<string, unknown> = {}): Scenario {
  const base: Record<string, unknown> = { model: 'qemu-0.12.3', seed: 1 };
  for (const [k, v] of Object.entries(over))
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(base[k] as object), ...v } : v;
  return resolveScenario(base, { file: 'test' });
}

/** Simulate with tracing at `granularity` (default none). */
export function run(
  s: Scenario,
  granularity: 'none' | 'stage' | 'iteration' | 'tick' = 'none',
): SimulatedRun {
  return simulate(s, { granularity });
}
