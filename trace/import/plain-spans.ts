/**
 * Spans as plain data, the working form of the real-stack importers and of the merge: ids are local
 * strings, times are µs since the epoch (CLOCK_REALTIME, the clock libvirt, QEMU and the proxy all use).
 * `toReadableSpans` stamps them into OpenTelemetry spans with the one seeded SDK setup, so one call makes
 * one trace (one traceId) and identical input gives identical ids.
 */
import { type Attributes, type AttributeValue, context, type Span, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SERVICE } from '../names.ts';
import { createCollectingTracer } from '../sdk.ts';

/** A point in time inside a plain span. */
export interface PlainEvent {
  name: string;
  tUs: number;
  attributes: Attributes;
}

/** One span as plain data. */
export interface PlainSpan {
  /** Unique within one list. */
  id: string;
  /** The parent's id, or null for a root. */
  parent: string | null;
  name: string;
  startUs: number;
  endUs: number;
  attributes: Attributes;
  events: PlainEvent[];
  /** Ids of spans this one follows from (e.g. qemu.migration links to the `migrate` command). */
  links: string[];
}

/** µs since the epoch as an OpenTelemetry HrTime. */
export function hrFromUs(us: number): [number, number] {
  const s = Math.floor(us / 1e6);
  return [s, Math.round((us - s * 1e6) * 1000)];
}

/** An OpenTelemetry HrTime as µs since the epoch. */
export function usFromHr(t: readonly [number, number]): number {
  return t[0] * 1e6 + t[1] / 1000;
}

/** A JSON value as a short string for an attribute (cut to `max` characters, with an ellipsis). */
export function summarize(value: unknown, max = 256): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  if (s === undefined) return '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Parents before children, otherwise in input order; spans whose parent is missing become roots. */
export function topoOrder(spans: readonly PlainSpan[]): PlainSpan[] {
  const ids = new Map(spans.map((s) => [s.id, s]));
  const kids = new Map<string | null, PlainSpan[]>();
  for (const s of spans) {
    const p = s.parent !== null && ids.has(s.parent) && s.parent !== s.id ? s.parent : null;
    kids.set(p, [...(kids.get(p) ?? []), s]);
  }
  const out: PlainSpan[] = [];
  const seen = new Set<string>();
  const visit = (s: PlainSpan) => {
    if (seen.has(s.id)) return;
    seen.add(s.id);
    out.push(s);
    for (const k of kids.get(s.id) ?? []) visit(k);
  };
  for (const r of kids.get(null) ?? []) visit(r);
  // A parent cycle leaves spans unvisited: make them roots rather than lose them.
  for (const s of spans) visit(s);
  return out;
}

/**
 * Stamp plain spans into OpenTelemetry spans (service migscope-real). Spans come back in input order,
 * parents keep their ids, links become OTel links; a parent that is missing makes the span a root.
 */
export function toReadableSpans(
  spans: readonly PlainSpan[],
  opts: { seed?: number; resource?: Record<string, string | number | boolean> } = {},
): ReadableSpan[] {
  const tracing = createCollectingTracer(opts.seed ?? 1, SERVICE.real, opts.resource ?? {});
  const made = new Map<string, Span>();
  for (const s of topoOrder(spans)) {
    const parent = s.parent === null ? undefined : made.get(s.parent);
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    const links = s.links
      .map((id) => made.get(id)?.spanContext())
      .filter((c) => c !== undefined)
      .map((c) => ({ context: c }));
    const span = tracing.tracer.startSpan(
      s.name,
      { startTime: hrFromUs(s.startUs), attributes: s.attributes, root: !parent, links },
      ctx,
    );
    for (const e of s.events) span.addEvent(e.name, e.attributes, hrFromUs(e.tUs));
    made.set(s.id, span);
  }
  for (const s of spans) made.get(s.id)?.end(hrFromUs(Math.max(s.startUs, s.endUs)));
  const byId = new Map(spans.map((s, i) => [made.get(s.id)!.spanContext().spanId, i]));
  return tracing
    .spans()
    .slice()
    .sort((a, b) => byId.get(a.spanContext().spanId)! - byId.get(b.spanContext().spanId)!);
}

/** OpenTelemetry spans (one or more traces) back to plain spans; ids are the span ids. */
export function fromReadableSpans(spans: readonly ReadableSpan[]): PlainSpan[] {
  return spans.map((s) => ({
    id: s.spanContext().spanId,
    parent: s.parentSpanContext?.spanId ?? null,
    name: s.name,
    startUs: usFromHr(s.startTime),
    endUs: usFromHr(s.endTime),
    attributes: { ...s.attributes },
    events: s.events.map((e) => ({ name: e.name, tUs: usFromHr(e.time), attributes: { ...e.attributes } })),
    links: s.links.map((l) => l.context.spanId),
  }));
}

/** An attribute as a string, or undefined. */
export function attrString(a: Attributes, key: string): string | undefined {
  const v: AttributeValue | undefined = a[key];
  return typeof v === 'string' ? v : undefined;
}
