/**
 * QEMU's `log` trace backend output, as written with `-trace events=FILE,file=OUT -msg timestamp=on`:
 * one line per event, `TID@SEC.USEC:event args` (../shared/docs/real-lab.md §3). Lines that do not have
 * this shape (torn writes at exit, other stderr text) are counted, not fatal. `traceSpans` maps the
 * events to the simulator's span names (qemu-spec.md §5); `importQemuTraceLog` makes OpenTelemetry spans.
 */
import { context, type Span, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR, EVENT, SERVICE, SPAN } from '../names.ts';
import { createCollectingTracer } from '../sdk.ts';

/** One parsed trace line. */
export interface TraceRecord {
  /** Thread id: separates the main loop from the live_migration and multifd threads. */
  tid: number;
  /** CLOCK_REALTIME in µs since the epoch. */
  tUs: number;
  event: string;
  /** The rest of the line after the event name (format per event in QEMU's trace-events files). */
  args: string;
}

/** A parsed trace log. */
export interface TraceLog {
  records: TraceRecord[];
  /** Non-empty lines that are not trace lines. */
  garbled: number;
  /** The first few garbled lines, for messages. */
  garbledSamples: string[];
}

const LINE = /^(\d+)@(\d+)\.(\d{1,6}):([A-Za-z0-9_]+)(?: (.*))?$/;

/** Parse a whole trace log. */
export function parseTraceLog(text: string): TraceLog {
  const records: TraceRecord[] = [];
  const garbledSamples: string[] = [];
  let garbled = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) {
      garbled++;
      if (garbledSamples.length < 5) garbledSamples.push(line.slice(0, 200));
      continue;
    }
    records.push({
      tid: Number(m[1]),
      // the fraction is printed with %06ld: six digits of µs
      tUs: Number(m[2]) * 1e6 + Number(m[3]!.padEnd(6, '0')),
      event: m[4]!,
      args: (m[5] ?? '').trim(),
    });
  }
  return { records, garbled, garbledSamples };
}

/**
 * The named numbers in a trace line's args: `transferred 3357090 time_spent 100 bandwidth 33570` gives
 * {transferred, time_spent, bandwidth}; `pending size 9003008 max 10071270 (pre = 9003008 ...)` gives
 * {size, max, pre, ...}; an unnamed leading number is `value`.
 */
export function traceNumbers(args: string): Record<string, number> {
  const out: Record<string, number> = {};
  const tokens = args
    .replace(/[(),=:]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!/^-?\d+$/.test(t)) continue;
    const name = i > 0 && !/^-?\d+$/.test(tokens[i - 1]!) ? tokens[i - 1]! : 'value';
    if (!(name in out)) out[name] = Number(t);
  }
  return out;
}

/** QEMU 7.2 closes a dirty-rate "period" at most once per second (ram.c migration_bitmap_sync). */
const PERIOD_MS = 1000;

/** One bitmap sync from the trace: when it ran and the pages it newly found dirty. */
export interface TraceSync {
  startUs: number;
  tUs: number;
  /** Newly dirty pages found by this sync. */
  dirty: number;
  /** QEMU's printed num_dirty_pages_period. */
  raw: number;
}

/** Bitmap syncs from migration_bitmap_sync_start/end. QEMU prints num_dirty_pages_period, which
 * accumulates over syncs until a period (>= 1 s) closes, so values inside one period are differenced. */
export function traceSyncs(log: TraceLog | null): TraceSync[] {
  if (!log) return [];
  const out: TraceSync[] = [];
  let start: number | null = null;
  let carried = 0;
  let periodStartUs: number | null = null;
  for (const r of log.records) {
    if (r.event === 'migration_bitmap_sync_start') start = r.tUs;
    else if (r.event === 'migration_bitmap_sync_end') {
      const raw = traceNumbers(r.args).dirty_pages ?? 0;
      periodStartUs ??= start ?? r.tUs;
      out.push({ tUs: r.tUs, startUs: start ?? r.tUs, dirty: Math.max(0, raw - carried), raw });
      if (r.tUs > periodStartUs + PERIOD_MS * 1000) {
        periodStartUs = r.tUs;
        carried = 0;
      } else carried = raw;
      start = null;
    }
  }
  return out;
}

/** A span read from a trace log, as plain data (times in µs since the epoch). */
export interface TraceSpan {
  name: string;
  startUs: number;
  endUs: number;
  attributes: Record<string, string | number | boolean>;
  /** Index of the parent in the returned list; null for a top-level span. */
  parent: number | null;
  events: { name: string; tUs: number; attributes: Record<string, string | number> }[];
}

const TERMINAL_STATES = new Set(['completed', 'failed', 'cancelled']);

/**
 * The spans a QEMU 7.2 trace log shows (qemu-spec.md §5), by the names the simulator uses:
 * source: qemu.migration (setup → terminal state) with setup, dirty_sync, pass (sync n end → sync n+1
 * start), window (migrate_transferred), rate_limited_sleep and complete (vm stop → completed), plus
 * state, switchover-decision and throttle events; destination: qemu.incoming.
 */
export function traceSpans(log: TraceLog, role: 'source' | 'destination'): TraceSpan[] {
  const recs = log.records;
  if (recs.length === 0) return [];
  const out: TraceSpan[] = [];
  const add = (
    name: string,
    parent: number | null,
    startUs: number,
    endUs: number,
    attributes: TraceSpan['attributes'] = {},
  ) => {
    out.push({ name, startUs, endUs: Math.max(startUs, endUs), attributes, parent, events: [] });
    return out.length - 1;
  };
  const states = recs
    .filter((r) => r.event === 'migrate_set_state')
    .map((r) => ({ tUs: r.tUs, state: r.args.replace(/^new state /, '') }));
  const end = states.find((s) => TERMINAL_STATES.has(s.state));
  const lastUs = recs[recs.length - 1]!.tUs;
  if (role === 'destination') {
    add(SPAN.incoming, null, recs[0]!.tUs, end?.tUs ?? lastUs, { [ATTR.state]: end?.state ?? 'unfinished' });
    return out;
  }
  const startUs = states[0]?.tUs ?? recs[0]!.tUs;
  const endUs = end?.tUs ?? lastUs;
  const mig = add(SPAN.migration, null, startUs, endUs, { [ATTR.outcome]: end?.state ?? 'unfinished' });
  for (const s of states)
    out[mig]!.events.push({ name: EVENT.migrationState, tUs: s.tUs, attributes: { [ATTR.state]: s.state } });
  const setup = recs.find((r) => r.event === 'savevm_state_setup');
  const setupDone = recs.find((r) => r.event === 'migration_thread_setup_complete');
  if (setup && setupDone) add(SPAN.setup, mig, setup.tUs, setupDone.tUs);
  const syncs = traceSyncs(log);
  syncs.forEach((s, i) => {
    add(SPAN.dirtySync, mig, s.startUs, s.tUs, { [ATTR.pass]: i + 1, [ATTR.dirtyPages]: s.dirty });
    add(SPAN.pass, mig, s.tUs, syncs[i + 1]?.startUs ?? endUs, {
      [ATTR.pass]: i + 1,
      [ATTR.dirtyPages]: s.dirty,
    });
  });
  let sleepFrom: TraceRecord | null = null;
  let stopUs: number | null = null;
  for (const r of recs) {
    if (r.event === 'migrate_transferred') {
      const n = traceNumbers(r.args);
      add(SPAN.window, mig, r.tUs - (n.time_spent ?? 0) * 1000, r.tUs, {
        [ATTR.bytes]: n.transferred ?? 0,
        [ATTR.bandwidthEstimate]: (n.bandwidth ?? 0) * 1000,
        [ATTR.thresholdBytes]: n.max_size ?? 0,
      });
    } else if (r.event === 'migration_rate_limit_pre') sleepFrom = r;
    else if (r.event === 'migration_rate_limit_post' && sleepFrom) {
      add(SPAN.rateLimitedSleep, mig, sleepFrom.tUs, r.tUs, {
        [ATTR.sleepMs]: traceNumbers(sleepFrom.args).value ?? 0,
      });
      sleepFrom = null;
    } else if (r.event === 'migration_thread_low_pending')
      out[mig]!.events.push({
        name: EVENT.switchoverDecision,
        tUs: r.tUs,
        attributes: { [ATTR.remainingPages]: Math.round((traceNumbers(r.args).value ?? 0) / 4096) },
      });
    else if (r.event === 'migration_throttle')
      out[mig]!.events.push({ name: EVENT.throttleStep, tUs: r.tUs, attributes: {} });
    else if (r.event === 'migration_completion_vm_stop') stopUs ??= r.tUs;
  }
  if (stopUs !== null && end?.state === 'completed') add(SPAN.complete, mig, stopUs, end.tUs);
  return out;
}

/** A whole trace log file as OpenTelemetry spans (service migscope-real), with its parse counts. */
export function importQemuTraceLog(
  text: string,
  opts: { role?: 'source' | 'destination'; seed?: number } = {},
): { spans: ReadableSpan[]; records: number; garbled: number } {
  const log = parseTraceLog(text);
  const tracing = createCollectingTracer(opts.seed ?? 1, SERVICE.real);
  const made: Span[] = [];
  const list = traceSpans(log, opts.role ?? 'source');
  for (const s of list) {
    const parent = s.parent === null ? undefined : made[s.parent];
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    const span = tracing.tracer.startSpan(
      s.name,
      { startTime: hrUs(s.startUs), attributes: s.attributes, root: !parent },
      ctx,
    );
    for (const e of s.events) span.addEvent(e.name, e.attributes, hrUs(e.tUs));
    made.push(span);
  }
  list.forEach((s, i) => {
    made[i]!.end(hrUs(s.endUs));
  });
  return { spans: tracing.spans(), records: log.records.length, garbled: log.garbled };
}

function hrUs(us: number): [number, number] {
  const s = Math.floor(us / 1e6);
  return [s, Math.round((us - s * 1e6) * 1000)];
}
