/**
 * Chrome trace-event JSON (`{traceEvents: [...]}`), the format Perfetto UI and chrome://tracing open:
 * one complete event (ph "X") per span, one process per traced process (libvirtd, QEMU, the monitor, by
 * `migscope.process`), one thread track per thread id, and counter tracks (ph "C") for the remaining
 * bytes and throughput that spans carry as attributes. Spans on one thread that overlap without nesting
 * (a rate window across a pass boundary) go to a sibling track, since the format requires nesting.
 */
import { writeFileSync } from 'node:fs';
import type { AttributeValue } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR } from '../names.ts';

/** One trace event (the fields this exporter writes). */
export interface ChromeEvent {
  name: string;
  ph: 'X' | 'i' | 'C' | 'M';
  /** µs since the trace's first span start. */
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  cat?: string;
  s?: 't' | 'p' | 'g';
  args?: Record<string, unknown>;
}

/** A whole Chrome trace file. */
export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: 'ms';
  /** Unix µs of ts 0, so the wall clock can be recovered. */
  otherData: { startUnixUs: number; spans: number };
}

/** Counter tracks: [attribute, track name, args key, multiplier]. */
const COUNTERS: [string, string, string, number][] = [
  [ATTR.pendingBytes, 'remaining bytes', 'bytes', 1],
  [ATTR.remainingPages, 'remaining bytes', 'bytes', 4096],
  [ATTR.bandwidthEstimate, 'throughput (bytes/s)', 'bytes/s', 1],
];

const us = (t: readonly [number, number]) => t[0] * 1e6 + t[1] / 1e3;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The process a span belongs to: `migscope.process`, else service and side. */
function processOf(s: ReadableSpan): string {
  const p = s.attributes[ATTR.process];
  if (typeof p === 'string') return p;
  const service = String(s.resource?.attributes?.['service.name'] ?? 'migscope');
  const side = s.attributes[ATTR.monitorSide] ?? s.attributes[ATTR.labRole];
  return typeof side === 'string' ? `${service} (${side})` : service;
}

function argValue(v: AttributeValue | undefined): unknown {
  return Array.isArray(v) ? [...v] : v;
}

/** Spans as a Chrome trace (pure; identical spans give identical output). */
export function toChromeTrace(spans: readonly ReadableSpan[]): ChromeTrace {
  const t0 = spans.length > 0 ? Math.min(...spans.map((s) => us(s.startTime))) : 0;
  const rel = (t: readonly [number, number]) => round3(us(t) - t0);
  const procs = [...new Set(spans.map(processOf))].sort();
  const pidOf = new Map(procs.map((p, i) => [p, i + 1]));
  const events: ChromeEvent[] = [];
  procs.forEach((p, i) => {
    events.push({ name: 'process_name', ph: 'M', pid: i + 1, args: { name: p } });
    events.push({ name: 'process_sort_index', ph: 'M', pid: i + 1, args: { sort_index: i + 1 } });
  });

  // Tracks: per process, per thread id (or one "spans" thread), split into lanes that nest properly.
  const order = spans
    .map((s, i) => ({ s, i, start: rel(s.startTime), end: Math.max(rel(s.startTime), rel(s.endTime)) }))
    .sort((a, b) => a.start - b.start || b.end - a.end || a.i - b.i);
  const lanes = new Map<string, { name: string; tid: number; stack: number[] }[]>();
  const nextTid = new Map<number, number>();
  const placed: { x: (typeof order)[number]; pid: number; tid: number }[] = [];
  for (const x of order) {
    const pid = pidOf.get(processOf(x.s))!;
    const thread = x.s.attributes[ATTR.threadId];
    const key = `${pid}|${thread ?? ''}`;
    const group = lanes.get(key) ?? [];
    lanes.set(key, group);
    let lane = group.find((l) => {
      while (l.stack.length > 0 && l.stack[l.stack.length - 1]! <= x.start) l.stack.pop();
      return l.stack.length === 0 || x.end <= l.stack[l.stack.length - 1]!;
    });
    if (!lane) {
      const tid = (nextTid.get(pid) ?? 0) + 1;
      nextTid.set(pid, tid);
      const base = thread === undefined ? 'spans' : `thread ${thread}`;
      lane = { name: group.length === 0 ? base : `${base} (${group.length + 1})`, tid, stack: [] };
      group.push(lane);
      events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: lane.name } });
      events.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
    }
    lane.stack.push(x.end);
    placed.push({ x, pid, tid: lane.tid });
  }

  const counters: ChromeEvent[] = [];
  for (const { x, pid, tid } of placed) {
    const s = x.s;
    const args: Record<string, unknown> = { spanId: s.spanContext().spanId };
    if (s.parentSpanContext?.spanId) args.parentSpanId = s.parentSpanContext.spanId;
    for (const [k, v] of Object.entries(s.attributes)) args[k] = argValue(v);
    events.push({
      name: spanLabel(s),
      cat: String(s.attributes[ATTR.traceSource] ?? s.name.split('.')[0]),
      ph: 'X',
      ts: x.start,
      dur: round3(x.end - x.start),
      pid,
      tid,
      args,
    });
    for (const e of s.events) {
      const eargs: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(e.attributes ?? {})) eargs[k] = argValue(v);
      events.push({ name: e.name, ph: 'i', s: 't', ts: rel(e.time), pid, tid, args: eargs });
    }
    const seen = new Set<string>();
    for (const [attr, track, key, mul] of COUNTERS) {
      const v = s.attributes[attr];
      if (typeof v !== 'number' || !Number.isFinite(v) || seen.has(track)) continue;
      seen.add(track);
      // The figure is known when the span ends (a poll's reply, a window's close, a pass's end).
      counters.push({ name: track, ph: 'C', ts: x.end, pid, args: { [key]: v * mul } });
    }
  }
  counters.sort((a, b) => a.pid - b.pid || a.name.localeCompare(b.name) || a.ts! - b.ts!);
  return {
    traceEvents: [...events, ...counters],
    displayTimeUnit: 'ms',
    otherData: { startUnixUs: Math.round(t0), spans: spans.length },
  };
}

/** A span's label on its track: monitor commands show the command. */
function spanLabel(s: ReadableSpan): string {
  const cmd = s.attributes[ATTR.monitorCommand];
  return typeof cmd === 'string' ? `${s.name} ${cmd}` : s.name;
}

/** Write `spans` as a Chrome trace file (for Perfetto UI: ui.perfetto.dev, "Open trace file"). */
export function writeChromeTrace(file: string, spans: readonly ReadableSpan[]): void {
  writeFileSync(file, `${JSON.stringify(toChromeTrace(spans))}\n`);
}

/** A SpanExporter that (re)writes every span it has been given to one Chrome trace file. */
export class PerfettoFileExporter implements SpanExporter {
  private readonly spans: ReadableSpan[] = [];
  private stopped = false;

  constructor(private readonly file: string) {}

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    if (this.stopped) {
      done({ code: ExportResultCode.FAILED, error: new Error('exporter shut down') });
      return;
    }
    try {
      this.spans.push(...spans);
      writeChromeTrace(this.file, this.spans);
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
  }
}
