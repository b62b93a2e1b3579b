/**
 * A lab run's observations (QMP events and replies, query-migrate samples, QEMU trace-event logs, the
 * correctness checks) turned into result.json and spans with the simulator's names. Pure: no QEMU, no
 * files, so a recorded run (test/fixtures/lab) re-assembles identically.
 */
import { type Attributes, context, type HrTime, type Span, type Tracer, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { formatPageRuns } from '../../models/guest/layout.ts';
import type { IterationRecord, MigrationResult } from '../../models/result.ts';
import { PAGE_SIZE } from '../../models/workloads/page-writes.ts';
import { type TraceLog, traceNumbers, traceSpans, traceSyncs } from '../import/qemu-trace-events.ts';
import { ATTR, EVENT, SERVICE, SPAN } from '../names.ts';
import { createCollectingTracer } from '../sdk.ts';
import type { QmpEvent } from './qmp.ts';
import type { LabRecord, MigrateSample, QueryMigrateInfo } from './run.ts';

/** The `model` of real runs: the QEMU generation the lab runs. */
export const LAB_MODEL = 'qemu-7.2';

/** The trace logs of both sides, when QEMU wrote them. */
export interface LabTraces {
  source: TraceLog | null;
  destination: TraceLog | null;
}

/** µs since the epoch as an OpenTelemetry HrTime. */
export function hrFromUs(us: number): HrTime {
  const s = Math.floor(us / 1e6);
  return [s, Math.round((us - s * 1e6) * 1000)];
}

const migrationEvents = (events: QmpEvent[]) => events.filter((e) => e.event === 'MIGRATION');
const statusOf = (e: QmpEvent) => String(e.data.status);
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Cumulative counter `get` at time `tUs`, linearly interpolated between samples. */
function cumulativeAt(points: [number, number][], tUs: number): number {
  if (points.length === 0) return 0;
  if (tUs <= points[0]![0]) return points[0]![1];
  for (let i = 1; i < points.length; i++) {
    const [t1, v1] = points[i]!;
    if (tUs <= t1) {
      const [t0, v0] = points[i - 1]!;
      return t1 === t0 ? v1 : v0 + ((v1 - v0) * (tUs - t0)) / (t1 - t0);
    }
  }
  return points[points.length - 1]![1];
}

/** The ram section of a sample, if it has one. */
const ramOf = (s: MigrateSample) => s.info.ram;

/** Newly dirty pages per bitmap sync, from the source trace (see traceSyncs). */
export const dirtyPagesPerSync = traceSyncs;

/** Turn a lab run's record into result.json and spans. Identical records give identical output. */
export function assembleLab(
  rec: LabRecord,
  traces: LabTraces,
): { result: MigrationResult; spans: ReadableSpan[] } {
  const scn = rec.scenario;
  const src = rec.source.events;
  const mig = migrationEvents(src);
  const setupEv = mig.find((e) => statusOf(e) === 'setup');
  const activeEv = mig.find((e) => statusOf(e) === 'active');
  const endEv = mig.find((e) => TERMINAL.has(statusOf(e)));
  const stopEv = src.find((e) => e.event === 'STOP');
  const passes = src
    .filter((e) => e.event === 'MIGRATION_PASS')
    .sort((a, b) => Number(a.data.pass) - Number(b.data.pass));
  const migrated = rec.migrateSentUs !== null;
  const t0 = setupEv?.tUs ?? rec.migrateSentUs ?? rec.sessionStartUs;
  const endUs = endEv?.tUs ?? rec.migrationEndUs ?? rec.sessionEndUs;
  const completed = rec.outcome === 'completed' || (rec.outcome === 'failed' && rec.ramCompare !== null);
  const samples = rec.samples;
  const withRam = samples.filter((s) => ramOf(s));
  const last = withRam[withRam.length - 1]?.info;
  // The last completed reply: the first ones can still read total-time 0 (see settle() in run.ts).
  const final = [...samples].reverse().find((s) => s.info.status === 'completed')?.info;
  const ram = (final ?? last)?.ram ?? {};
  const blockBytes = Math.max(0, ...samples.map((s) => s.info.disk?.transferred ?? 0));
  const ramBytes = ram.transferred ?? 0;
  // The last reply: the first active one can read setup-time 0 (QEMU sets the state before the time).
  const setupTime = lastDefined(samples, (i) => i['setup-time']);
  const totalTimeMs = final?.['total-time'] || (migrated ? (endUs - t0) / 1000 : 0);
  const downtimeMs = completed ? (final?.downtime ?? null) : null;

  // Cumulative curves for per-pass figures: the samples, anchored at 0 at the first pass (setup sends only
  // the stream header; the sender's 100 ms bursts make interpolating across setup poor) and at the final
  // counters when it completed.
  const curve = (get: (r: Record<string, number>) => number): [number, number][] => {
    const pts: [number, number][] = [[passes[0]?.tUs ?? t0, 0]];
    for (const s of withRam) if (s.tUs > pts[0]![0]) pts.push([s.tUs, get(s.info.ram!)]);
    if (final?.ram) pts.push([endUs, get(final.ram)]);
    return pts.sort((a, b) => a[0] - b[0]);
  };
  const bytesCurve = curve((r) => r.transferred ?? 0);
  const pagesCurve = curve((r) => (r.normal ?? 0) + (r.duplicate ?? 0));
  const syncs = dirtyPagesPerSync(traces.source);
  const windows = (traces.source?.records ?? []).filter((r) => r.event === 'migrate_transferred');
  const bandwidthAt = (tUs: number): number | null => {
    let bw: number | null = null;
    for (const w of windows) if (w.tUs <= tUs) bw = (traceNumbers(w.args).bandwidth ?? 0) * 1000;
    if (bw !== null) return bw;
    const s = [...withRam].reverse().find((x) => x.tUs <= tUs);
    return s?.info.ram?.mbps !== undefined ? (s.info.ram.mbps * 1e6) / 8 : null;
  };
  // migrate_pending (once per loop turn) is finer than the 50 ms samples; fall back to the samples.
  const pendings = (traces.source?.records ?? []).filter((r) => r.event === 'migrate_pending');
  const remainingAt = (tUs: number, isLast: boolean): number => {
    if (isLast && final) return 0;
    let pending: number | null = null;
    for (const r of pendings) if (r.tUs <= tUs) pending = traceNumbers(r.args).size ?? pending;
    if (pending !== null) return Math.round(pending / PAGE_SIZE);
    const s = [...withRam].reverse().find((x) => x.tUs <= tUs);
    return Math.round((s?.info.ram?.remaining ?? 0) / PAGE_SIZE);
  };

  const iterations: IterationRecord[] = passes.map((p, i) => {
    const start = p.tUs;
    const end = passes[i + 1]?.tUs ?? endUs;
    const isLast = i === passes.length - 1;
    return {
      index: Number(p.data.pass),
      startMs: round3((start - t0) / 1000),
      endMs: round3((end - t0) / 1000),
      bytes: Math.round(cumulativeAt(bytesCurve, end) - cumulativeAt(bytesCurve, start)),
      pagesSent: Math.round(cumulativeAt(pagesCurve, end) - cumulativeAt(pagesCurve, start)),
      dirtyPagesAtSync: syncs[i]?.dirty ?? 0,
      remainingPages: remainingAt(end, isLast),
      bandwidthEstimate: bandwidthAt(end),
    };
  });

  const throttleMax = Math.max(0, ...samples.map((s) => s.info['cpu-throttle-percentage'] ?? 0));
  const result: MigrationResult = {
    source: 'real',
    model: LAB_MODEL,
    scenario: scn,
    outcome: rec.outcome,
    converged: rec.outcome === 'completed',
    message: rec.message,
    totalTimeMs: round3(totalTimeMs),
    downtimeMs,
    setupTimeMs: setupTime,
    // query-migrate has no device-state counter: bytes.device is null (not measured)
    bytes: { total: ramBytes + blockBytes, ram: ramBytes, block: blockBytes, device: null },
    pages: { normal: ram.normal ?? 0, uniform: ram.duplicate ?? 0 },
    iterations,
    downtimeBreakdown: {
      finalPassMs: completed && stopEv && endEv ? round3((endEv.tUs - stopEv.tUs) / 1000) : null,
      drainMs: null,
      loadMs: null,
      managementMs: null,
    },
    extra: {
      qemuVersion: rec.qemuVersion,
      memoryArg: rec.memoryArg,
      uri: rec.uri,
      dirtySyncCount: ram['dirty-sync-count'] ?? passes.length,
      precopyBytes: ram['precopy-bytes'] ?? null,
      downtimeBytes: ram['downtime-bytes'] ?? null,
      mbps: ram.mbps ?? null,
      pagesPerSecond: ram['pages-per-second'] ?? null,
      expectedDowntimeMs: lastDefined(samples, (i) => i['expected-downtime']),
      cpuThrottlePercentMax: throttleMax,
      samples: samples.length,
      deviceBytesMeasured: false,
      bootMs:
        rec.spawnUs !== null && rec.workloadStartUs !== null
          ? round3((rec.workloadStartUs - rec.spawnUs) / 1000)
          : null,
      guestRateMiBps: rec.guestRateMiBps,
      // Where the working set landed ("first+count,…" in buffer order), to check a measured layout against.
      wssPlacement: rec.wssPlacement ? formatPageRuns(rec.wssPlacement) : null,
      ramPagesCompared: rec.ramCompare?.pages ?? null,
      ramPagesDiffering: rec.ramCompare?.differing ?? null,
      diskIdentical: rec.diskCompare?.identical ?? null,
      traceLinesSource: traces.source?.records.length ?? null,
      traceGarbledSource: traces.source?.garbled ?? null,
      traceLinesDestination: traces.destination?.records.length ?? null,
      sourceExit: rec.source.exit,
      destinationExit: rec.destination.exit,
    },
    delivery: rec.ramCompare
      ? {
          checked: true,
          pagesStale: rec.ramCompare.differing,
          chunksStale: rec.diskCompare?.differingChunks ?? 0,
        }
      : null,
  };
  const spans = buildSpans(rec, traces, result, {
    t0,
    endUs,
    setupEv,
    activeEv,
    endEv,
    stopEv,
    passes,
    syncs,
    iterations,
  });
  return { result, spans };
}

function lastDefined(
  samples: MigrateSample[],
  get: (i: QueryMigrateInfo) => number | undefined,
): number | null {
  for (let i = samples.length - 1; i >= 0; i--) {
    const v = get(samples[i]!.info);
    if (v !== undefined) return v;
  }
  return null;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

interface Marks {
  t0: number;
  endUs: number;
  setupEv: QmpEvent | undefined;
  activeEv: QmpEvent | undefined;
  endEv: QmpEvent | undefined;
  stopEv: QmpEvent | undefined;
  passes: QmpEvent[];
  syncs: ReturnType<typeof dirtyPagesPerSync>;
  iterations: IterationRecord[];
}

/** Spans on the host clock: QMP event timestamps, trace-event timestamps and host receive times. */
function buildSpans(rec: LabRecord, traces: LabTraces, result: MigrationResult, m: Marks): ReadableSpan[] {
  const scn = rec.scenario;
  const tracing = createCollectingTracer(scn.seed, SERVICE.real, { [ATTR.model]: LAB_MODEL });
  const tracer = tracing.tracer;
  // QEMU stamps its events and trace lines with the realtime clock, the host its QMP traffic with
  // performance.now() from the process start: the two drift apart by microseconds on a busy host, so a
  // child never starts before its parent.
  const starts = new Map<Span, number>();
  const open = (name: string, parent: Span | null, from: number, attrs?: Attributes): Span => {
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    const at = parent ? Math.max(from, starts.get(parent) ?? from) : from;
    const s = tracer.startSpan(name, { startTime: hrFromUs(at), attributes: attrs, root: !parent }, ctx);
    starts.set(s, at);
    return s;
  };
  const span = (name: string, parent: Span | null, from: number, to: number, attrs?: Attributes): Span => {
    const s = open(name, parent, from, attrs);
    s.end(hrFromUs(Math.max(starts.get(s)!, to)));
    return s;
  };

  // Parents end after their children are created (end order does not matter to the exporter).
  const root = open(SPAN.monitorCommand, null, rec.sessionStartUs, {
    [ATTR.monitorCommand]: 'session',
    [ATTR.source]: 'real',
    [ATTR.model]: LAB_MODEL,
    [ATTR.scenario]: scn.name,
    [ATTR.seed]: scn.seed,
  });
  if (rec.spawnUs !== null && rec.workloadStartUs !== null)
    span(SPAN.labBoot, root, rec.spawnUs, rec.workloadStartUs);
  for (const side of ['source', 'destination'] as const) {
    for (const x of rec[side].exchanges) {
      if (!x.sentUs) continue;
      span(SPAN.monitorCommand, root, x.sentUs, x.receivedUs ?? x.sentUs, {
        [ATTR.monitorCommand]: x.command,
        [ATTR.labRole]: side,
        [ATTR.monitorOk]: x.ok,
        ...(x.command === 'query-migrate' && x.ok
          ? { [ATTR.state]: String((x.reply as QueryMigrateInfo).status) }
          : {}),
      });
    }
  }
  if (rec.migrateSentUs !== null) migrationSpans(rec, traces, result, m, root, tracer, span, open);
  incomingSpan(rec, root, span);
  if (rec.ramCompare)
    span(SPAN.labRamCompare, root, rec.ramCompare.startUs, rec.ramCompare.endUs, {
      [ATTR.labPages]: rec.ramCompare.pages,
      [ATTR.labDifferingPages]: rec.ramCompare.differing,
    });
  if (rec.diskCompare)
    span(SPAN.labDiskCompare, root, rec.diskCompare.startUs, rec.diskCompare.endUs, {
      [ATTR.labDiskIdentical]: rec.diskCompare.identical,
      [ATTR.labDifferingChunks]: rec.diskCompare.differingChunks,
    });
  root.setAttribute(ATTR.outcome, rec.outcome);
  root.end(hrFromUs(rec.sessionEndUs));
  return tracing.spans();
}

type SpanFn = (name: string, parent: Span | null, from: number, to: number, attrs?: Attributes) => Span;
type OpenFn = (name: string, parent: Span | null, from: number, attrs?: Attributes) => Span;

function migrationSpans(
  rec: LabRecord,
  traces: LabTraces,
  result: MigrationResult,
  m: Marks,
  root: Span,
  _tracer: Tracer,
  span: SpanFn,
  open: OpenFn,
): void {
  const migration = open(SPAN.migration, root, m.t0, {
    [ATTR.uri]: rec.uri ?? '',
    [ATTR.labRole]: 'source',
    ...(rec.source.pid !== null ? { [ATTR.labPid]: rec.source.pid } : {}),
  });
  for (const e of migrationEvents(rec.source.events))
    migration.addEvent(EVENT.migrationState, { [ATTR.state]: statusOf(e) }, hrFromUs(e.tUs));
  if (m.stopEv) migration.addEvent(EVENT.stop, undefined, hrFromUs(m.stopEv.tUs));
  let throttle = 0;
  for (const s of rec.samples) {
    const t = s.info['cpu-throttle-percentage'] ?? 0;
    if (t > throttle) migration.addEvent(EVENT.throttleStep, { [ATTR.throttlePercent]: t }, hrFromUs(s.tUs));
    throttle = Math.max(throttle, t);
  }
  const records = traces.source?.records ?? [];
  for (const r of records)
    if (r.event === 'migration_thread_low_pending')
      migration.addEvent(
        EVENT.switchoverDecision,
        { [ATTR.remainingPages]: Math.round((traceNumbers(r.args).value ?? 0) / PAGE_SIZE) },
        hrFromUs(r.tUs),
      );

  if (m.setupEv && m.activeEv)
    span(
      SPAN.setup,
      migration,
      m.setupEv.tUs,
      m.activeEv.tUs,
      result.setupTimeMs !== null ? { 'qemu.setup_time_ms': result.setupTimeMs } : {},
    );
  m.passes.forEach((p, i) => {
    const it = m.iterations[i]!;
    span(SPAN.pass, migration, p.tUs, m.passes[i + 1]?.tUs ?? m.endUs, {
      [ATTR.pass]: it.index,
      [ATTR.iteration]: it.index,
      [ATTR.bytes]: it.bytes,
      [ATTR.pagesSent]: it.pagesSent,
      [ATTR.dirtyPages]: it.dirtyPagesAtSync,
      [ATTR.remainingPages]: it.remainingPages,
      ...(it.bandwidthEstimate !== null ? { [ATTR.bandwidthEstimate]: it.bandwidthEstimate } : {}),
    });
  });
  // The trace log's finer spans go under the QMP-timed migration span; its passes and states come from QMP.
  const fromTrace = new Set<string>([SPAN.dirtySync, SPAN.window, SPAN.rateLimitedSleep]);
  if (traces.source)
    for (const ts of traceSpans(traces.source, 'source'))
      if (fromTrace.has(ts.name)) span(ts.name, migration, ts.startUs, ts.endUs, ts.attributes);
  if (m.stopEv && result.downtimeMs !== null) {
    span(SPAN.downtime, migration, m.stopEv.tUs, m.stopEv.tUs + result.downtimeMs * 1000);
    if (m.endEv) span(SPAN.complete, migration, m.stopEv.tUs, m.endEv.tUs);
  }
  migration.setAttributes({
    [ATTR.outcome]: rec.outcome,
    [ATTR.converged]: result.converged,
    [ATTR.bytes]: result.bytes.total,
    [ATTR.bytesRam]: result.bytes.ram,
    [ATTR.bytesBlock]: result.bytes.block,
    [ATTR.pagesNormal]: result.pages.normal,
    [ATTR.pagesUniform]: result.pages.uniform,
  });
  // QEMU stops the downtime clock in migration_iteration_finish, a little after the completed event.
  const downtimeEnd = m.stopEv && result.downtimeMs !== null ? m.stopEv.tUs + result.downtimeMs * 1000 : 0;
  migration.end(hrFromUs(Math.max(m.t0, m.endUs, downtimeEnd)));
}

function incomingSpan(rec: LabRecord, root: Span, span: SpanFn): void {
  const mig = migrationEvents(rec.destination.events);
  if (mig.length === 0) return;
  const end = mig.find((e) => TERMINAL.has(statusOf(e)));
  span(SPAN.incoming, root, mig[0]!.tUs, end?.tUs ?? rec.migrationEndUs ?? rec.sessionEndUs, {
    [ATTR.labRole]: 'destination',
    [ATTR.state]: end ? statusOf(end) : statusOf(mig[mig.length - 1]!),
    ...(rec.destination.pid !== null ? { [ATTR.labPid]: rec.destination.pid } : {}),
  });
}
