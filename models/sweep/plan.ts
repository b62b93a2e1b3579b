/**
 * A sweep's runs, fully resolved: each point of the design set into the base scenario, with a seed derived
 * from the sweep seed, the point and the repeat, then validated. A run is keyed by the content hash of its
 * resolved scenario; a combination the scenario rules reject (a working set larger than RAM) is a run that
 * fails with that message, not a bad spec.
 */
import { UsageError } from '../../sim/errors.ts';
import { expandRuns } from '../../sim/sweep/expand.ts';
import { contentHash, deriveSeed } from '../../sim/sweep/hash.ts';
import { resolveScenario, type Scenario } from '../scenario.ts';
import type { SweepSpec } from './spec.ts';

/** One resolved run. */
export interface PlannedRun {
  /** Position in the expansion (CSV and merged-store order). */
  index: number;
  /** Parameter path → value. */
  params: Record<string, unknown>;
  repeat: number;
  /** The scenario seed of this run. */
  seed: number;
  /** sha256 of the resolved scenario's canonical JSON (of the raw one when invalid). */
  key: string;
  /** The resolved scenario, or null when the combination is invalid. */
  scenario: Scenario | null;
  /** Why the combination is invalid (one line), or null. */
  invalid: string | null;
}

/** Set a dot path in a raw scenario, creating sections on the way. */
export function setPath(raw: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let obj = raw;
  for (const p of parts.slice(0, -1)) {
    const next = obj[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) obj[p] = {};
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]!] = structuredClone(value);
}

/** Every run of a sweep, in expansion order. */
export function planSweep(spec: SweepSpec): PlannedRun[] {
  const { design } = spec;
  return expandRuns(design).map((run) => {
    const identity =
      design.sampler === 'grid' ? run.point.values : { sample: run.point.index, values: run.point.values };
    const seed = deriveSeed(design.seed, identity, run.repeat);
    const raw = structuredClone(spec.base);
    for (const [path, v] of Object.entries(run.point.values)) setPath(raw, path, v);
    raw.seed = seed;
    try {
      const scenario = resolveScenario(raw, { file: `run ${run.index}` });
      return {
        index: run.index,
        params: run.point.values,
        repeat: run.repeat,
        seed,
        key: contentHash(scenario),
        scenario,
        invalid: null,
      };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return {
        index: run.index,
        params: run.point.values,
        repeat: run.repeat,
        seed,
        key: contentHash({ invalid: raw }),
        scenario: null,
        invalid: err.message,
      };
    }
  });
}
