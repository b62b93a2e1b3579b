/**
 * Spans on the simulated clock. Models call this with span names from trace/names.ts; it stamps start and
 * end times from `env.now` (offset from a fixed epoch) and drops spans finer than the chosen granularity,
 * so a sweep can run with tracing off at no cost.
 */
import { type Attributes, context, type HrTime, type Span, type Tracer, trace } from '@opentelemetry/api';
import type { Environment } from './env.ts';
import { SimArgumentError } from './errors.ts';
import type { Ns } from './time.ts';

/** How fine the recorded spans are: nothing, stages, iterations, or every rate-limit tick/window. */
export type Granularity = 'none' | 'stage' | 'iteration' | 'tick';
export const GRANULARITIES: readonly Granularity[] = ['none', 'stage', 'iteration', 'tick'];

/** The level a span belongs to; it is recorded when level <= the recorder's granularity. */
export const LEVEL = { stage: 1, iteration: 2, tick: 3 } as const;
export type Level = (typeof LEVEL)[keyof typeof LEVEL];

const RANK: Record<Granularity, number> = { none: 0, stage: 1, iteration: 2, tick: 3 };

/** Simulated time 0 as wall-clock seconds since 1970 (2026-01-01T00:00:00Z), so viewers show sane dates. */
export const SIM_EPOCH_S = 1_767_225_600;

const NOOP: Span = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 });

/** Records OpenTelemetry spans whose times are simulated nanoseconds. */
export class SpanRecorder {
  private readonly rank: number;

  constructor(
    private readonly env: Environment,
    private readonly tracer: Tracer | null,
    granularity: Granularity = 'iteration',
    private readonly epochS: number = SIM_EPOCH_S,
  ) {
    if (!(granularity in RANK)) throw new SimArgumentError(`unknown trace granularity "${granularity}"`);
    this.rank = tracer ? RANK[granularity] : 0;
  }

  /** Whether spans of `level` are being recorded. */
  on(level: Level): boolean {
    return level <= this.rank;
  }

  /** Simulated time `t` as an OpenTelemetry HrTime. */
  hr(t: Ns): HrTime {
    const s = Math.floor(t / 1e9);
    return [this.epochS + s, t - s * 1e9];
  }

  /** Start a span now (or at `at`), as a child of `parent` when given. */
  start(name: string, level: Level, parent?: Span, attributes?: Attributes, at?: Ns): Span {
    if (level > this.rank || !this.tracer) return NOOP;
    const ctx = parent && parent !== NOOP ? trace.setSpan(context.active(), parent) : context.active();
    return this.tracer.startSpan(
      name,
      { startTime: this.hr(at ?? this.env.now), attributes, root: !parent || parent === NOOP },
      ctx,
    );
  }

  /** End `span` now (or at `at`), adding `attributes` first. */
  end(span: Span, attributes?: Attributes, at?: Ns): void {
    if (span === NOOP) return;
    if (attributes) span.setAttributes(attributes);
    span.end(this.hr(at ?? this.env.now));
  }

  /** A complete span from `from` to `to`, for work whose length is known when it starts. */
  span(
    name: string,
    level: Level,
    parent: Span | undefined,
    from: Ns,
    to: Ns,
    attributes?: Attributes,
  ): Span {
    const s = this.start(name, level, parent, attributes, from);
    this.end(s, undefined, to);
    return s;
  }

  /** A point event on `span` now (or at `at`). */
  event(span: Span, name: string, attributes?: Attributes, at?: Ns): void {
    if (span === NOOP) return;
    span.addEvent(name, attributes, this.hr(at ?? this.env.now));
  }
}
