/**
 * The one tracing SDK setup, for the simulator and the real tracer alike: a tracer provider with a seeded
 * id generator (identical runs write identical trace files) whose spans collect in memory until exported.
 */
import type { Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  type IdGenerator,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createRng } from '../sim/random.ts';

/** Trace and span ids drawn from a seeded stream instead of crypto randomness. */
export class SeededIdGenerator implements IdGenerator {
  private readonly rng;

  constructor(seed: number) {
    this.rng = createRng(seed, 0x7ace);
  }

  generateTraceId(): string {
    return this.hex(4);
  }

  generateSpanId(): string {
    return this.hex(2);
  }

  private hex(words: number): string {
    let s = '';
    for (let i = 0; i < words; i++) s += this.rng.uint32().toString(16).padStart(8, '0');
    return s;
  }
}

/** A tracer whose finished spans can be read back with `spans()`. */
export interface CollectingTracer {
  tracer: Tracer;
  /** Finished spans, in the order they ended. */
  spans(): ReadableSpan[];
  shutdown(): Promise<void>;
}

/** A tracer for one run, with `service.name` and extra resource attributes. */
export function createCollectingTracer(
  seed: number,
  serviceName: string,
  resource: Record<string, string | number | boolean> = {},
): CollectingTracer {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    idGenerator: new SeededIdGenerator(seed),
    resource: resourceFromAttributes({ 'service.name': serviceName, ...resource }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    spanLimits: { attributeCountLimit: 256, eventCountLimit: 100_000 },
  });
  return {
    tracer: provider.getTracer('migscope'),
    spans: () => exporter.getFinishedSpans(),
    shutdown: () => provider.shutdown(),
  };
}
