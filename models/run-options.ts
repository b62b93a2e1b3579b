/** What every model's `simulate(scenario, options)` takes besides the scenario. */
import type { Environment } from '../sim/env.ts';
import type { SpanRecorder } from '../sim/span-recorder.ts';

/** Options of one simulated run. */
export interface RunOptions {
  /** Builds the span recorder for the run's environment (granularity and tracer decided by the caller). */
  rec: (env: Environment) => SpanRecorder;
  /** Track a version per page and chunk and check delivery at the end. */
  trackVersions: boolean;
}
