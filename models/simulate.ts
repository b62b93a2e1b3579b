/**
 * Run a scenario through its model: the library entry point of the simulator. Returns result.json's
 * record and, when tracing, the spans for trace.otlp.jsonl.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { type Granularity, SpanRecorder } from '../sim/span-recorder.ts';
import { SERVICE } from '../trace/names.ts';
import { createCollectingTracer } from '../trace/sdk.ts';
import * as qemu0123 from './qemu-0.12.3/index.ts';
import * as qemu72 from './qemu-7.2/index.ts';
import * as replication from './replication/index.ts';
import type { MigrationResult } from './result.ts';
import type { ModelName, Scenario } from './scenario.ts';
import { replayScenario } from './workloads/replay.ts';

/** Options of `simulate`. */
export interface SimulateOptions {
  /** Span granularity; 'none' records no spans (fastest). Default 'iteration'. */
  granularity?: Granularity;
  /** Track page and chunk versions and check delivery. Default true. */
  trackVersions?: boolean;
}

/** A simulated run: its result and its spans (empty with granularity 'none'). */
export interface SimulatedRun {
  result: MigrationResult;
  spans: ReadableSpan[];
}

type Model = { simulate: typeof qemu0123.simulate };

const MODELS: Partial<Record<ModelName, Model>> = {
  'qemu-0.12.3': qemu0123,
  'qemu-7.2': qemu72,
};

/** The models that can run now. */
export function availableModels(): ModelName[] {
  return Object.keys(MODELS) as ModelName[];
}

/** Simulate one migration. The same scenario always gives the same result and spans. */
export function simulate(given: Scenario, opts: SimulateOptions = {}): SimulatedRun {
  // kind: replay runs the recorded guest (models/workloads/replay.ts); result.scenario shows what ran.
  const scn = replayScenario(given);
  // A scenario with a replication section runs the checkpointing mode (models/replication).
  const model = scn.replication ? replication : MODELS[scn.model];
  if (!model)
    throw new Error(`model ${scn.model} is not implemented yet (available: ${availableModels().join(', ')})`);
  const granularity = opts.granularity ?? 'iteration';
  const tracing =
    granularity !== 'none'
      ? createCollectingTracer(scn.seed, SERVICE.sim, { 'migscope.model': scn.model })
      : null;
  const result = model.simulate(scn, {
    rec: (env) => new SpanRecorder(env, tracing?.tracer ?? null, granularity),
    trackVersions: opts.trackVersions ?? true,
  });
  return { result, spans: tracing ? tracing.spans() : [] };
}
