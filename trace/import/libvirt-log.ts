/**
 * libvirt 9.0 debug logs (log_filters 1:qemu.* 1:libvirt, real-lab.md §4.4) as the span tree libvirt API →
 * qemu driver → monitor commands, with the simulator's span names (trace/names.ts, qemu-spec.md §4.3).
 *
 * Two line formats are read:
 * - libvirtd's own: `2026-11-27 15:20:32.975+0000: 30137: debug : virDomainMigrateBegin3Params:5235 : msg`
 *   (one file per daemon; which side a file is comes from the functions it logs, or from `side`);
 * - the condensed, interleaved form of real-lab.md §4.4: `15:20:32.975 S 30137 function:line : msg`, whose
 *   S/D says the side; its date comes from `date` (else its times are time-of-day on 1970-01-01 and the
 *   result says `dated: false`, so a merge can shift it by whole days).
 *
 * Lines that continue the previous one (multi-line XML, the `\r\n len=...` after a QMP buffer) are joined
 * to it. Lines that cannot be read (torn headers, binary junk) are counted as garbled; QMP JSON that is cut
 * short is counted as truncated and used as far as it goes (command name and id). Nothing here throws on
 * bad input.
 *
 * Real daemon logs (test/trace/libvirt-lab/fixtures) differ from the condensed excerpt in three ways the
 * span builder handles: libvirt 9.0 logs an API's typed parameters and returned XML as more lines of the
 * API function (one phase per call, not per line); a worker thread serves other RPCs after a phase returns
 * (a phase ends at its RPC reply when the daemon logs RPC_SERVER_CLIENT_MSG_RX / _TX_QUEUE, `2:rpc` in
 * log_filters, else before its thread's next `remoteDispatch...Helper` line, else at its thread's last
 * line before the next phase); and a log covers the daemon's whole life (`SpanOptions.window`).
 */
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR, EVENT, SPAN } from '../names.ts';
import { type PlainEvent, type PlainSpan, summarize, toReadableSpans } from './plain-spans.ts';

/** Which daemon wrote a line. */
export type Side = 'source' | 'destination';

/** One log entry (a header line plus its continuation lines). */
export interface LibvirtEntry {
  /** µs since the epoch (libvirt prints ms). */
  tUs: number;
  tid: number;
  /** debug / info / warning / error; null in the condensed format. */
  level: string | null;
  fn: string;
  line: number;
  msg: string;
  side: Side | null;
  /** 1-based line number of the header in the file. */
  lineNo: number;
}

/** A parsed libvirt log. */
export interface LibvirtLog {
  entries: LibvirtEntry[];
  /** Non-empty lines read. */
  lines: number;
  /** Lines that are neither an entry nor a continuation. */
  garbled: number;
  /** Continuation lines joined to the entry before them. */
  continuation: number;
  /** The first few garbled lines (line number and text), for messages. */
  garbledSamples: string[];
  /** False when the lines carry no date (condensed format without `date`). */
  dated: boolean;
}

const FULL =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})(?:([+-])(\d{2})(\d{2}))?: (\d+): ([a-z]+) : ([A-Za-z_][A-Za-z0-9_]*):(\d+) : ?(.*)$/;
/** The header libvirt writes when it opens a log output (no function:line): version and host name. */
const FULL_HEADER =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})(?:([+-])(\d{2})(\d{2}))?: (\d+): (info) : ((?:libvirt version|hostname): .*)$/;
const CONDENSED = /^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) ([SD]) (\d+) ([A-Za-z_][A-Za-z0-9_]*):(\d+) : ?(.*)$/;
/** Looks like the start of an entry (so a line that does not parse is torn, not a continuation). */
const HEADERISH = /^(\d{4}-\d{2}-\d{2}[ T]|\d{2}:\d{2}:\d{2}[.,]\d)/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: binary junk is what this detects
const BINARY = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]/;

/** Options of `parseLibvirtLog`. */
export interface ParseOptions {
  /** The side of every full-format line (default: inferred by `inferSide`). */
  side?: Side;
  /** `YYYY-MM-DD` (UTC) for condensed lines. */
  date?: string;
}

/** Parse a whole libvirt debug log. Never throws. */
export function parseLibvirtLog(text: string, opts: ParseOptions = {}): LibvirtLog {
  const entries: LibvirtEntry[] = [];
  const garbledSamples: string[] = [];
  let garbled = 0;
  let continuation = 0;
  let lines = 0;
  let condensedUndated = false;
  const dateMs = opts.date ? Date.parse(`${opts.date}T00:00:00Z`) : Number.NaN;
  const base = Number.isFinite(dateMs) ? dateMs : 0;
  const bad = (no: number, line: string) => {
    garbled++;
    if (garbledSamples.length < 5) garbledSamples.push(`line ${no}: ${summarize(line, 120)}`);
  };
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i]!.replace(/\r$/, '');
    if (!line.trim()) continue;
    lines++;
    const no = i + 1;
    let m = FULL.exec(line);
    const header = m ? null : FULL_HEADER.exec(line);
    if (m || header) {
      const [y, mo, d, h, mi, s, ms] = (m ?? header)!.slice(1, 8).map(Number) as number[];
      const z = (m ?? header)!;
      const off = z[8] ? (z[8] === '-' ? -1 : 1) * (Number(z[9]) * 60 + Number(z[10])) : 0;
      const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!) - off * 60_000;
      entries.push({
        tUs: t * 1000,
        tid: Number(z[11]),
        level: z[12]!,
        fn: m ? m[13]! : '',
        line: m ? Number(m[14]) : 0,
        msg: m ? m[15]! : header![13]!,
        side: opts.side ?? null,
        lineNo: no,
      });
      continue;
    }
    m = CONDENSED.exec(line);
    if (m) {
      const [h, mi, s, ms] = m.slice(1, 5).map(Number) as number[];
      if (!Number.isFinite(dateMs)) condensedUndated = true;
      entries.push({
        tUs: (base + ((h! * 60 + mi!) * 60 + s!) * 1000 + ms!) * 1000,
        tid: Number(m[6]),
        level: null,
        fn: m[7]!,
        line: Number(m[8]),
        msg: m[9]!,
        side: m[5] === 'S' ? 'source' : 'destination',
        lineNo: no,
      });
      continue;
    }
    if (BINARY.test(line) || HEADERISH.test(line) || entries.length === 0) {
      bad(no, line);
      continue;
    }
    continuation++;
    const last = entries[entries.length - 1]!;
    last.msg += `\n${line}`;
  }
  const log: LibvirtLog = { entries, lines, garbled, continuation, garbledSamples, dated: !condensedUndated };
  if (!opts.side) {
    const side = inferSide(entries);
    for (const e of entries) e.side ??= side;
  }
  return log;
}

/** The side a single daemon's log belongs to, from the migration functions it logs (source by default). */
export function inferSide(entries: readonly LibvirtEntry[]): Side {
  let src = 0;
  let dst = 0;
  for (const e of entries) {
    if (/^(virDomainMigrate(Begin|Perform|Confirm)3|qemuMigrationSrc)/.test(e.fn)) src++;
    else if (/^(virDomainMigrate(Prepare|Finish)3|qemuMigrationDst)/.test(e.fn)) dst++;
  }
  return dst > src ? 'destination' : 'source';
}

/** One QMP message found in the log. */
interface MonitorMsg {
  kind: 'send' | 'reply' | 'event';
  tUs: number;
  tid: number;
  side: Side;
  mon: string;
  /** The parsed JSON, or null when it was cut short. */
  json: Record<string, unknown> | null;
  /** What could be read of a cut message. */
  execute: string | null;
  id: string | null;
  raw: string;
  /** SEND_MSG is logged by the thread that issues the command; IO_WRITE by the event loop. */
  fromWorker: boolean;
  /** Index of the entry in the (sorted) entries. */
  idx: number;
}

const MONITOR =
  /^QEMU_MONITOR_(IO_WRITE|SEND_MSG|RECV_REPLY|RECV_EVENT): mon=(0x[0-9a-f]+|\(nil\)) (?:buf|msg|reply|event)=([\s\S]*)$/;

function monitorMessages(entries: readonly LibvirtEntry[]): { msgs: MonitorMsg[]; truncated: number } {
  const msgs: MonitorMsg[] = [];
  let truncated = 0;
  entries.forEach((e, idx) => {
    const m = MONITOR.exec(e.msg);
    if (!m || !e.side) return;
    // The buffer ends at the \r\n QEMU's protocol puts after it; the rest is libvirt's len=/fd= suffix.
    const raw = m[3]!.split('\n')[0]!.replace(/\r$/, '').trim();
    let json: Record<string, unknown> | null = null;
    try {
      const v = JSON.parse(raw);
      if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
    } catch {
      truncated++;
    }
    const kind = m[1] === 'RECV_REPLY' ? 'reply' : m[1] === 'RECV_EVENT' ? 'event' : 'send';
    msgs.push({
      kind,
      tUs: e.tUs,
      tid: e.tid,
      side: e.side,
      mon: m[2]!,
      json,
      execute: json ? (typeof json.execute === 'string' ? json.execute : null) : grab(raw, 'execute'),
      id: json ? (typeof json.id === 'string' ? json.id : null) : grab(raw, 'id'),
      raw,
      fromWorker: m[1] === 'SEND_MSG',
      idx,
    });
  });
  return { msgs, truncated };
}

/** `"key":"value"` (or `"key": "value"`) from a JSON text that may be cut short. */
function grab(raw: string, key: string): string | null {
  return new RegExp(`"${key}"\\s*:\\s*"([^"]*)"`).exec(raw)?.[1] ?? null;
}

/** Counts of one import, for the command's summary. */
export interface LibvirtCounts {
  /** Non-empty lines read, over all files. */
  lines: number;
  entries: number;
  garbled: number;
  continuation: number;
  /** QMP messages whose JSON was cut short. */
  truncated: number;
  commands: number;
  /** Commands with no reply in the log (their span has zero length). */
  unanswered: number;
  events: number;
}

/** A time window in µs since the epoch; a missing end is open. */
export interface TimeWindow {
  fromUs?: number;
  toUs?: number;
}

/** Options of `libvirtSpans`. */
export interface SpanOptions {
  /**
   * Keep only the entries inside this window (real daemon logs cover the daemon's whole life: start-up,
   * capability probing, domain start). `auto`: the migration's own window (`migrationWindow`).
   */
  window?: TimeWindow | 'auto';
  /** Margin of the `auto` window on both sides, µs (default 100 ms). */
  marginUs?: number;
}

/** What `libvirtSpans` makes of one or more logs of one migration. */
export interface LibvirtTrace {
  spans: PlainSpan[];
  counts: LibvirtCounts;
  garbledSamples: string[];
  dated: boolean;
  /** The window applied (`SpanOptions.window`), or null when every entry was kept. */
  window: { fromUs: number; toUs: number } | null;
  /** Entries left out because they fall outside the window. */
  outside: number;
  /** Phases whose bounds come from the daemon's RPC_SERVER_CLIENT_MSG_RX / _TX_QUEUE lines (`2:rpc`). */
  rpcBounded: number;
}

type Phase = 'begin3' | 'prepare3' | 'perform3' | 'finish3' | 'confirm3';

const PHASES: { re: RegExp; phase: Phase; side: Side; span: string; proc: number }[] = [
  { re: /^virDomainMigrateBegin3(Params)?$/, phase: 'begin3', side: 'source', span: SPAN.begin3, proc: 302 },
  {
    re: /^virDomainMigratePrepare3(Params)?$/,
    phase: 'prepare3',
    side: 'destination',
    span: SPAN.prepare3,
    proc: 303,
  },
  {
    re: /^virDomainMigratePerform3(Params)?$/,
    phase: 'perform3',
    side: 'source',
    span: SPAN.perform3,
    proc: 305,
  },
  {
    re: /^virDomainMigrateFinish3(Params)?$/,
    phase: 'finish3',
    side: 'destination',
    span: SPAN.finish3,
    proc: 306,
  },
  {
    re: /^virDomainMigrateConfirm3(Params)?$/,
    phase: 'confirm3',
    side: 'source',
    span: SPAN.confirm3,
    proc: 307,
  },
];

/**
 * The daemon's RPC probes (`2:rpc` in log_filters): a request as it arrives (RX, logged by the event loop)
 * and its reply as it is queued (TX_QUEUE, logged by the worker). type 0/4 = call, 1/5 = reply.
 */
const RPC_SERVER =
  /^RPC_SERVER_CLIENT_MSG_(RX|TX_QUEUE): client=(0x[0-9a-f]+|\(nil\)) len=\d+ prog=(\d+) vers=\d+ proc=(\d+) type=(\d+) status=(\d+) serial=(\d+)/;
/** The dispatcher's first line of every RPC a worker thread serves (`remoteDispatchDomainGetJobInfoHelper`). */
const DISPATCH = /^remoteDispatch[A-Za-z0-9]*Helper$/;
/** The extra lines libvirt 9.0 logs under an API's own name: its typed parameters and the XML it returns. */
const API_EXTRA = /^(params\[|xml\b)/;

/** One RPC a daemon served, from its RPC_SERVER_CLIENT_MSG_RX / _TX_QUEUE lines. */
export interface ServerRpc {
  side: Side;
  client: string;
  proc: number;
  serial: number;
  rxUs: number;
  /** When the reply was queued; null when the log has no reply. */
  txUs: number | null;
  /** 0 = OK, 1 = error (virNetMessageStatus); null without reply. */
  status: number | null;
  /** Indexes of the RX and TX_QUEUE entries in `entries`. */
  rxIdx: number;
  txIdx: number | null;
}

/** The RPCs the daemons served, in the order they arrived (entries sorted by time). */
export function serverRpcs(entries: readonly LibvirtEntry[]): ServerRpc[] {
  const out: ServerRpc[] = [];
  const open = new Map<string, ServerRpc>();
  entries.forEach((e, i) => {
    if (!e.side || !e.msg.startsWith('RPC_SERVER_CLIENT_MSG_')) return;
    const m = RPC_SERVER.exec(e.msg);
    if (!m) return;
    const key = `${e.side}|${m[2]}|${m[3]}|${m[4]}|${m[7]}`;
    if (m[1] === 'RX' && (m[5] === '0' || m[5] === '4')) {
      const r: ServerRpc = {
        side: e.side,
        client: m[2]!,
        proc: Number(m[4]),
        serial: Number(m[7]),
        rxUs: e.tUs,
        txUs: null,
        status: null,
        rxIdx: i,
        txIdx: null,
      };
      out.push(r);
      open.set(key, r);
    } else if (m[1] === 'TX_QUEUE' && (m[5] === '1' || m[5] === '5')) {
      const r = open.get(key);
      if (!r) return;
      r.txUs = e.tUs;
      r.txIdx = i;
      r.status = Number(m[6]);
      open.delete(key);
    }
  });
  return out;
}

/** A phase's API entry point. */
interface PhaseStart {
  entry: LibvirtEntry;
  idx: number;
  def: (typeof PHASES)[number];
}

/**
 * The entries that open a phase: the first line of a phase API function in a call on its thread. libvirt
 * 9.0 logs the call's typed parameters (`params["bandwidth"]=...`) and returned XML (`xml <domain`) as
 * more lines of the same function; they belong to the call they are logged in. A thread's call ends when
 * it dispatches another RPC (`remoteDispatch...Helper`).
 */
function phaseStarts(entries: readonly LibvirtEntry[]): PhaseStart[] {
  const starts: PhaseStart[] = [];
  const inCall = new Map<string, string>();
  entries.forEach((e, idx) => {
    const key = `${e.side}|${e.tid}`;
    if (DISPATCH.test(e.fn)) {
      inCall.delete(key);
      return;
    }
    const def = PHASES.find((p) => p.re.test(e.fn));
    if (!def) return;
    if (inCall.get(key) === e.fn && API_EXTRA.test(e.msg)) return;
    inCall.set(key, e.fn);
    starts.push({ entry: e, idx, def });
  });
  return starts;
}

/**
 * The window of the migration in these logs: from the first phase's API call (its RPC's arrival when the
 * log has it) to the end of the last Finish3 / Confirm3 (its reply when the log has it), widened by
 * `marginUs` on both sides; null when the logs show no migration phase.
 */
export function migrationWindow(
  logs: readonly LibvirtLog[],
  marginUs = 100_000,
): { fromUs: number; toUs: number } | null {
  const phases = libvirtSpans(logs).spans.filter((s) => s.attributes[ATTR.rpcProc] !== undefined);
  if (phases.length === 0) return null;
  const last = phases.filter((s) => /^(finish3|confirm3)$/.test(String(s.attributes[ATTR.jobPhase])));
  return {
    fromUs: Math.min(...phases.map((s) => s.startUs)) - marginUs,
    toUs: Math.max(...(last.length > 0 ? last : phases).map((s) => s.endUs)) + marginUs,
  };
}

/** The qemu driver functions under each phase, outermost first: [name pattern, span name]. */
const DRIVER: Record<Phase, [RegExp, string][]> = {
  begin3: [[/^qemuMigrationSrc(Begin|BeginPhase|StoreDomainState)$/, SPAN.qemuMigrationSrcBegin]],
  prepare3: [
    [/^qemuMigrationDstPrepare/, SPAN.qemuMigrationDstPrepare],
    [/^qemuProcess(Init|Start|Launch)$/, SPAN.qemuProcessStart],
  ],
  perform3: [
    [/^qemuMigrationSrcPerform(Phase|Job)?$/, SPAN.qemuMigrationSrcPerform],
    [/^qemuMigrationSrcPerformPeer2Peer3?$/, SPAN.qemuMigrationSrcPerformPeer2Peer],
    [/^qemuMigrationSrcRun$/, SPAN.qemuMigrationSrcRun],
  ],
  finish3: [[/^qemuMigrationDstFinish/, SPAN.qemuMigrationDstFinish]],
  confirm3: [[/^qemuMigrationSrcConfirm/, SPAN.qemuMigrationSrcConfirm]],
};

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * The span tree of one migration from its libvirt logs (source and destination daemons, or one
 * interleaved file): a root for the client's migration call (inferred: the daemons do not log it; virsh's
 * client log gives the real one, libvirt-client-log.ts) → Begin3 / Prepare3 / Perform3 / Finish3 /
 * Confirm3 (one per API call, bounded by its RPC request and reply when logged) → qemu driver spans →
 * monitor.command spans (send → reply, matched by QMP id), with QMP events as span events. With
 * `opts.window`, only the entries inside it are used (`outside` counts the others).
 */
export function libvirtSpans(logs: readonly LibvirtLog[], opts: SpanOptions = {}): LibvirtTrace {
  const all = logs.flatMap((l) => l.entries).sort((a, b) => a.tUs - b.tUs || a.lineNo - b.lineNo);
  let window: { fromUs: number; toUs: number } | null = null;
  if (opts.window === 'auto') window = migrationWindow(logs, opts.marginUs);
  else if (opts.window)
    window = {
      fromUs: opts.window.fromUs ?? Number.NEGATIVE_INFINITY,
      toUs: opts.window.toUs ?? Number.POSITIVE_INFINITY,
    };
  const entries = window ? all.filter((e) => e.tUs >= window.fromUs && e.tUs <= window.toUs) : all;
  const { msgs, truncated } = monitorMessages(entries);
  const rpcs = serverRpcs(entries);
  const spans: PlainSpan[] = [];
  let nextId = 1;
  const add = (s: Omit<PlainSpan, 'id' | 'events' | 'links'> & { events?: PlainEvent[] }): PlainSpan => {
    const span: PlainSpan = { id: `lv${nextId++}`, events: [], links: [], ...s };
    spans.push(span);
    return span;
  };
  const proc = (side: Side) => `libvirtd (${side})`;

  // Phases: an API entry point starts one. With the daemon's RPC lines it runs from the request's arrival
  // to its reply; else it ends at the last line it owns before the next phase starts or its worker thread
  // dispatches another RPC (libvirtd reuses the thread, e.g. for virsh's job polling).
  const starts = phaseStarts(entries);
  const lastUs = entries[entries.length - 1]?.tUs ?? 0;
  const firstUs = entries[0]?.tUs ?? 0;
  const repliesById = new Map<string, MonitorMsg>();
  for (const m of msgs) if (m.kind === 'reply' && m.id) repliesById.set(`${m.side}|${m.mon}|${m.id}`, m);

  const root = add({
    parent: null,
    name: starts.some((s) => s.def.phase === 'begin3' && (s.entry.side ?? s.def.side) === 'source')
      ? SPAN.virDomainMigrateVersion3
      : SPAN.virDomainMigrateToURI3,
    startUs: firstUs,
    endUs: lastUs,
    attributes: {
      [ATTR.inferred]: true,
      [ATTR.traceSource]: 'libvirt-log',
      [ATTR.process]: 'libvirt client',
    },
  });
  /** Driver-level spans per side, for parenting monitor commands by time. */
  const containers: PlainSpan[] = [];
  const usedRpcs = new Set<ServerRpc>();
  let rpcBounded = 0;
  starts.forEach(({ entry, idx, def }, i) => {
    const side = entry.side ?? def.side;
    // The request this call serves: the latest of its procedure to arrive before it, not yet replied to.
    const rpc = rpcs
      .filter(
        (r) =>
          r.side === side &&
          r.proc === def.proc &&
          r.rxIdx < idx &&
          (r.txIdx === null || r.txIdx > idx) &&
          !usedRpcs.has(r),
      )
      .pop();
    if (rpc) usedRpcs.add(rpc);
    let startUs = entry.tUs;
    let endUs: number;
    let own: LibvirtEntry[];
    if (rpc && rpc.txIdx !== null) {
      rpcBounded++;
      startUs = rpc.rxUs;
      endUs = rpc.txUs!;
      own = entries.slice(idx, rpc.txIdx + 1).filter((e) => e.side === side && e.tid === entry.tid);
    } else {
      // The next phase on the same daemon ends this one's window (in p2p the destination's Prepare3 and
      // Finish3 run inside the source's Perform3), and so does the next RPC its worker thread serves.
      let until =
        starts.slice(i + 1).find((n) => (n.entry.side ?? n.def.side) === side)?.entry.tUs ??
        Number.POSITIVE_INFINITY;
      let untilIdx = entries.length;
      for (let j = idx + 1; j < entries.length; j++) {
        const e = entries[j]!;
        if (e.tUs >= until) break;
        if (e.side === side && e.tid === entry.tid && DISPATCH.test(e.fn)) {
          untilIdx = j;
          until = e.tUs + 1;
          break;
        }
      }
      own = entries
        .slice(idx, untilIdx)
        .filter((e) => e.side === side && e.tid === entry.tid && e.tUs < until);
      const sent = msgs.filter(
        (m) =>
          m.side === side && m.kind === 'send' && m.tUs >= entry.tUs && m.tUs < until && m.idx < untilIdx,
      );
      endUs = Math.max(entry.tUs, ...own.map((e) => e.tUs), ...sent.map((m) => m.tUs));
      for (const m of sent) {
        const r = m.id ? repliesById.get(`${m.side}|${m.mon}|${m.id}`) : undefined;
        if (r) endUs = Math.max(endUs, r.tUs);
      }
      if (rpc) startUs = rpc.rxUs;
    }
    const rpcAttrs: Attributes = rpc ? { [ATTR.rpcSerial]: rpc.serial } : {};
    if (rpc?.status) rpcAttrs[ATTR.outcome] = 'error';
    const phase = add({
      parent: root.id,
      name: def.span,
      startUs,
      endUs,
      attributes: {
        ...rpcAttrs,
        [ATTR.rpcProc]: def.proc,
        [ATTR.jobPhase]: def.phase,
        [ATTR.monitorSide]: side,
        [ATTR.process]: proc(side),
        [ATTR.threadId]: entry.tid,
        [ATTR.codeFunction]: entry.fn,
        [ATTR.codeLine]: entry.line,
      },
    });
    containers.push(phase);
    let parent = phase;
    const subPhases: PlainSpan[] = [];
    for (const [re, name] of DRIVER[def.phase]) {
      const hits = own.filter((e) => re.test(e.fn));
      if (hits.length === 0) continue;
      // p2p: the source daemon runs the protocol's phases itself; a later driver span goes under its phase.
      const sub = subPhases.filter((p) => p.startUs <= hits[0]!.tUs).pop();
      if (sub) parent = sub;
      // A process launch ends at its last line; the other driver functions run to the end of the phase.
      const end = name === SPAN.qemuProcessStart ? hits[hits.length - 1]!.tUs : endUs;
      const s = add({
        parent: parent.id,
        name,
        startUs: hits[0]!.tUs,
        endUs: end,
        attributes: {
          [ATTR.jobPhase]: def.phase,
          [ATTR.monitorSide]: side,
          [ATTR.process]: proc(side),
          [ATTR.threadId]: entry.tid,
          [ATTR.codeFunction]: hits[0]!.fn,
          [ATTR.codeLine]: hits[0]!.line,
        },
      });
      containers.push(s);
      if (name !== SPAN.qemuProcessStart) parent = s;
      if (name === SPAN.qemuMigrationSrcPerformPeer2Peer)
        subPhases.push(...peerPhases(s, hits, side, entry.tid));
    }
    if (def.phase === 'perform3') waitSpans(parent, side, entry.tid, entry.tUs, endUs);
  });

  /** p2p: the `Prepare3 ...`, `Perform3 ...`, `Finish3 ...`, `Confirm3 ...` lines of PerformPeer2Peer3. */
  function peerPhases(p2p: PlainSpan, hits: LibvirtEntry[], side: Side, tid: number): PlainSpan[] {
    const marks = hits
      .map((e) => ({ e, name: /^(Begin3|Prepare3|Perform3|Finish3|Confirm3)\b/.exec(e.msg)?.[1] }))
      .filter((m) => m.name !== undefined);
    const names: Record<string, string> = {
      Begin3: SPAN.begin3,
      Prepare3: SPAN.prepare3,
      Perform3: SPAN.perform3,
      Finish3: SPAN.finish3,
      Confirm3: SPAN.confirm3,
    };
    return marks.map((m, i) => {
      const s = add({
        parent: p2p.id,
        name: names[m.name!]!,
        startUs: m.e.tUs,
        endUs: marks[i + 1]?.e.tUs ?? p2p.endUs,
        attributes: {
          [ATTR.jobPhase]: m.name!.toLowerCase(),
          [ATTR.monitorSide]: side,
          [ATTR.process]: proc(side),
          [ATTR.threadId]: tid,
          [ATTR.codeFunction]: m.e.fn,
          [ATTR.codeLine]: m.e.line,
          [ATTR.inferred]: true,
        },
      });
      containers.push(s);
      return s;
    });
  }

  /** qemuMigrationSrcWaitForCompletion: from the migrate reply to the terminal MIGRATION event. */
  function waitSpans(run: PlainSpan, side: Side, tid: number, fromUs: number, toUs: number): void {
    const migrate = msgs.find(
      (m) =>
        m.side === side && m.kind === 'send' && m.execute === 'migrate' && m.tUs >= fromUs && m.tUs <= toUs,
    );
    if (!migrate) return;
    const reply = migrate.id ? repliesById.get(`${side}|${migrate.mon}|${migrate.id}`) : undefined;
    const startUs = reply?.tUs ?? migrate.tUs;
    const statuses = migrationStatuses(side, migrate.mon).filter((s) => s.tUs >= migrate.tUs);
    const end = statuses.find((s) => TERMINAL.has(s.status));
    const wait = add({
      parent: run.id,
      name: SPAN.qemuMigrationSrcWaitForCompletion,
      startUs,
      endUs: Math.max(startUs, end?.logUs ?? toUs),
      attributes: {
        [ATTR.monitorSide]: side,
        [ATTR.process]: proc(side),
        [ATTR.threadId]: tid,
        [ATTR.inferred]: true,
        [ATTR.outcome]: end?.status ?? 'unfinished',
      },
    });
    containers.push(wait);
    const pre = statuses.find((s) => s.status === 'pre-switchover');
    const device = statuses.find((s) => s.status === 'device' && pre && s.tUs >= pre.tUs);
    if (pre && device)
      add({
        parent: wait.id,
        name: SPAN.preSwitchoverWait,
        startUs: pre.tUs,
        endUs: device.tUs,
        attributes: { [ATTR.monitorSide]: side, [ATTR.process]: proc(side), [ATTR.threadId]: tid },
      });
  }

  /** MIGRATION statuses of one monitor: QEMU's events, else libvirt's qemuMonitorEmitMigrationStatus lines. */
  function migrationStatuses(side: Side, mon: string): { tUs: number; logUs: number; status: string }[] {
    const fromEvents = msgs
      .filter((m) => m.kind === 'event' && m.side === side && m.mon === mon && m.json?.event === 'MIGRATION')
      .map((m) => ({
        tUs: eventTime(m),
        logUs: m.tUs,
        status: String((m.json!.data as { status?: string })?.status),
      }));
    if (fromEvents.length > 0) return fromEvents;
    return entries
      .filter(
        (e) => e.side === side && e.fn === 'qemuMonitorEmitMigrationStatus' && e.msg.startsWith(`mon=${mon}`),
      )
      .map((e) => ({ tUs: e.tUs, logUs: e.tUs, status: /status=([\w-]+)/.exec(e.msg)?.[1] ?? 'unknown' }));
  }

  /** The deepest span of `side` open at `tUs` (latest start wins), else the root. */
  const holder = (side: Side, tUs: number): PlainSpan => {
    let best: PlainSpan | null = null;
    for (const c of containers) {
      if (c.attributes[ATTR.monitorSide] !== side || c.startUs > tUs || c.endUs < tUs) continue;
      // An inferred start (the wait begins at the migrate reply) holds only what comes after it.
      if (c.attributes[ATTR.inferred] && c.startUs >= tUs) continue;
      if (!best || c.startUs >= best.startUs) best = c;
    }
    return best ?? root;
  };

  // Monitor commands: one span per QMP id and monitor, from the first send line to the reply.
  const counts: LibvirtCounts = {
    lines: logs.reduce((a, l) => a + l.lines, 0),
    entries: entries.length,
    garbled: logs.reduce((a, l) => a + l.garbled, 0),
    continuation: logs.reduce((a, l) => a + l.continuation, 0),
    truncated,
    commands: 0,
    unanswered: 0,
    events: 0,
  };
  const seen = new Map<string, PlainSpan>();
  for (const m of msgs) {
    if (m.kind !== 'send') continue;
    const key = m.id ? `${m.side}|${m.mon}|${m.id}` : null;
    const known = key ? seen.get(key) : undefined;
    if (known) {
      // SEND_MSG (worker thread) and IO_WRITE (event loop) of the same command.
      known.startUs = Math.min(known.startUs, m.tUs);
      if (m.fromWorker) known.attributes[ATTR.threadId] = m.tid;
      continue;
    }
    counts.commands++;
    const reply = key ? repliesById.get(key) : undefined;
    const parent = holder(m.side, m.tUs);
    const attrs: Attributes = {
      [ATTR.monitorCommand]: m.execute ?? 'unknown',
      [ATTR.monitorSide]: m.side,
      [ATTR.process]: proc(m.side),
      [ATTR.threadId]: m.tid,
      [ATTR.traceSource]: 'libvirt-log',
      'monitor.mon': m.mon,
    };
    if (m.id) attrs[ATTR.monitorId] = m.id;
    const args = m.json?.arguments;
    if (args !== undefined) attrs[ATTR.monitorArguments] = summarize(args);
    else if (!m.json) attrs[ATTR.monitorArguments] = summarize(m.raw);
    Object.assign(attrs, commandAttributes(m.execute, args as Record<string, unknown> | undefined));
    if (reply) Object.assign(attrs, replyAttributes(m.execute, reply.json));
    else {
      counts.unanswered++;
      attrs[ATTR.inferred] = true;
    }
    const span = add({
      parent: parent.id,
      name: SPAN.monitorCommand,
      startUs: m.tUs,
      endUs: reply?.tUs ?? m.tUs,
      attributes: attrs,
    });
    if (key) seen.set(key, span);
  }

  // Events: QMP events where the log has them, else libvirt's migration-status lines.
  const withEvents = new Set(msgs.filter((m) => m.kind === 'event').map((m) => `${m.side}|${m.mon}`));
  for (const m of msgs) {
    if (m.kind !== 'event' || !m.json) continue;
    counts.events++;
    const ev = qmpSpanEvent(m.json, eventTime(m));
    holder(m.side, m.tUs).events.push(ev);
  }
  for (const e of entries) {
    if (e.fn !== 'qemuMonitorEmitMigrationStatus' || !e.side) continue;
    const mon = /^mon=(0x[0-9a-f]+)/.exec(e.msg)?.[1] ?? '';
    if (withEvents.has(`${e.side}|${mon}`)) continue;
    counts.events++;
    const status = /status=([\w-]+)/.exec(e.msg)?.[1] ?? 'unknown';
    holder(e.side, e.tUs).events.push({
      name: EVENT.migrationState,
      tUs: e.tUs,
      attributes: { [ATTR.state]: status },
    });
  }
  // p2p: the destination daemon's Prepare3/Finish3 are calls made from the source's p2p phase of that name.
  for (const s of spans) {
    if (s.parent !== root.id || s.attributes[ATTR.monitorSide] !== 'destination') continue;
    const caller = spans.find(
      (c) =>
        c.name === s.name &&
        c.parent !== root.id &&
        c.attributes[ATTR.monitorSide] === 'source' &&
        c.startUs <= s.startUs &&
        c.endUs >= s.startUs,
    );
    if (caller) s.parent = caller.id;
  }
  // A parent covers its children (a terminal MIGRATION event can come after the phase's last own line).
  const byId = new Map(spans.map((s) => [s.id, s]));
  const depth = (s: PlainSpan): number => (s.parent ? 1 + depth(byId.get(s.parent)!) : 0);
  for (const s of spans.map((x) => ({ x, d: depth(x) })).sort((a, b) => b.d - a.d)) {
    const p = s.x.parent ? byId.get(s.x.parent) : undefined;
    if (p) p.endUs = Math.max(p.endUs, s.x.endUs);
  }
  for (const s of spans) s.events.sort((a, b) => a.tUs - b.tUs);
  return {
    spans,
    counts,
    garbledSamples: logs.flatMap((l) => l.garbledSamples).slice(0, 5),
    dated: logs.every((l) => l.dated),
    window,
    outside: all.length - entries.length,
    rpcBounded,
  };
}

function eventTime(m: MonitorMsg): number {
  const ts = m.json?.timestamp as { seconds?: number; microseconds?: number } | undefined;
  return ts && typeof ts.seconds === 'number' ? ts.seconds * 1e6 + (ts.microseconds ?? 0) : m.tUs;
}

/** A QMP event as a span event with the shared names: MIGRATION, MIGRATION_PASS, STOP, RESUME, others. */
export function qmpSpanEvent(msg: Record<string, unknown>, tUs: number): PlainEvent {
  const name = String(msg.event);
  const data = (msg.data ?? {}) as Record<string, unknown>;
  if (name === 'MIGRATION')
    return { name: EVENT.migrationState, tUs, attributes: { [ATTR.state]: String(data.status) } };
  if (name === 'MIGRATION_PASS')
    return { name: EVENT.migrationPass, tUs, attributes: { [ATTR.pass]: Number(data.pass) } };
  if (name === 'STOP') return { name: EVENT.stop, tUs, attributes: {} };
  if (name === 'RESUME') return { name: EVENT.resume, tUs, attributes: {} };
  const attributes: Attributes = { [ATTR.qmpEventName]: name };
  if (msg.data !== undefined) attributes[ATTR.qmpEventData] = summarize(msg.data);
  return { name: EVENT.qmpEvent, tUs, attributes };
}

/** Attributes a command's arguments give (the migration parameters libvirt sets). */
export function commandAttributes(
  command: string | null,
  args: Record<string, unknown> | undefined,
): Attributes {
  const out: Attributes = {};
  if (!args) return out;
  if (command === 'migrate' || command === 'migrate-incoming') {
    if (typeof args.uri === 'string') out[ATTR.uri] = args.uri;
  } else if (command === 'migrate-set-parameters') {
    if (typeof args['max-bandwidth'] === 'number') out[ATTR.maxBandwidth] = args['max-bandwidth'];
    if (typeof args['downtime-limit'] === 'number') out[ATTR.downtimeLimitMs] = args['downtime-limit'];
  } else if (command === 'migrate-set-capabilities' && Array.isArray(args.capabilities)) {
    out[ATTR.capabilities] = (args.capabilities as { capability?: string; state?: boolean }[])
      .filter((c) => c.state)
      .map((c) => String(c.capability))
      .join(',');
  }
  return out;
}

/** Attributes a reply gives: ok / error, and query-migrate's status, remaining bytes and throughput. */
export function replyAttributes(command: string | null, reply: Record<string, unknown> | null): Attributes {
  if (!reply) return { [ATTR.monitorOk]: true, [ATTR.monitorReply]: 'truncated' };
  if ('error' in reply) {
    const e = (reply.error ?? {}) as { class?: string; desc?: string };
    return { [ATTR.monitorOk]: false, [ATTR.monitorError]: `${e.class ?? 'Error'}: ${e.desc ?? ''}` };
  }
  const out: Attributes = { [ATTR.monitorOk]: true };
  const ret = reply.return as Record<string, unknown> | undefined;
  if (command === 'query-migrate' && ret && typeof ret === 'object') {
    if (typeof ret.status === 'string') out[ATTR.state] = ret.status;
    const ram = ret.ram as Record<string, number> | undefined;
    if (ram) {
      if (typeof ram.remaining === 'number') out[ATTR.pendingBytes] = ram.remaining;
      if (typeof ram.mbps === 'number') out[ATTR.bandwidthEstimate] = Math.round((ram.mbps * 1e6) / 8);
      if (typeof ram['dirty-sync-count'] === 'number') out[ATTR.pass] = ram['dirty-sync-count'];
    }
    if (typeof ret['cpu-throttle-percentage'] === 'number')
      out[ATTR.throttlePercent] = ret['cpu-throttle-percentage'];
  }
  return out;
}

/** Options of `importLibvirtLogs`. */
export interface ImportOptions {
  /** `YYYY-MM-DD` (UTC) for condensed-format lines. */
  date?: string;
  seed?: number;
  /** Keep only the migration's window (`SpanOptions.window`). */
  window?: SpanOptions['window'];
}

/** Whole libvirt debug logs (one per daemon, or one interleaved file) as OpenTelemetry spans and counts. */
export function importLibvirtLogs(
  texts: readonly string[],
  opts: ImportOptions = {},
): LibvirtTrace & { readable: ReadableSpan[] } {
  const logs = texts.map((t) => parseLibvirtLog(t, { date: opts.date }));
  const trace = libvirtSpans(logs, { window: opts.window });
  return { ...trace, readable: toReadableSpans(trace.spans, { seed: opts.seed ?? 1 }) };
}
