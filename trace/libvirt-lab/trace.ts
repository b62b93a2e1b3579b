/**
 * The trace of one real `virsh migrate --live` between the libvirt lab's two daemons, from the logs it
 * leaves: virsh's own client debug log (LIBVIRT_LOG_OUTPUTS: the public API calls and every RPC's
 * RPC_CLIENT_MSG_TX_QUEUE / RPC_CLIENT_MSG_RX line), both libvirtd debug logs (trace/import/libvirt-log.ts)
 * and both QEMUs' trace-event logs (trace/import/qemu-trace-events.ts), merged by trace/merge.ts. The tree
 * is the simulator's (models/libvirt-9.0/migrate.ts):
 *
 *   virsh.migrate → libvirt.virDomainMigrate3 → libvirt.virDomainMigrateVersion3Full
 *     → libvirt.Begin3 / Prepare3 / Perform3 / Finish3 / Confirm3 (client RPC round trips)
 *       → libvirtd.qemuMigrationSrc* / Dst* → monitor.command (getfd, migrate, migrate-continue, cont, ...)
 *         → qemu.migration → setup, dirty_sync, pass, window, complete
 *
 * The daemons log their whole lives (start-up, capability probing, domain start); only what they logged
 * while virsh ran is imported. Two things of the importer are corrected here for real logs: libvirt 9.0
 * logs an API's typed parameters and XML as extra lines of the API function (`params["bandwidth"]=...`,
 * `xml <domain ...>`), which would each open a phase, so only a thread's first line of a phase function
 * opens it; and a daemon worker thread serves other calls (virsh's job polling) after a phase returns, so a
 * phase and its driver spans end no later than the client received the RPC's reply.
 */
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  type LibvirtEntry,
  type LibvirtLog,
  type LibvirtTrace,
  libvirtSpans,
  parseLibvirtLog,
  type Side,
} from '../import/libvirt-log.ts';
import { type PlainSpan, toReadableSpans } from '../import/plain-spans.ts';
import { parseTraceLog } from '../import/qemu-trace-events.ts';
import { mergeSources } from '../merge.ts';
import { ATTR, EVENT, SPAN } from '../names.ts';

/** Spans only the libvirt lab writes (the client's connections; the simulator folds them into RPC time). */
export const LAB_SPAN = {
  connectOpen: 'libvirt.virConnectOpenAuth',
} as const;

/** Attribute keys only the libvirt lab writes. */
export const LAB_ATTR = {
  uri: 'libvirt.uri',
  saslMech: 'libvirt.auth.sasl_mech',
  rpcSerial: 'libvirt.rpc.serial',
  /** When the daemon logged the API entry point (its log has ms resolution), µs since the epoch. */
  daemonStartUs: 'libvirtd.api_start_us',
  exitCode: 'process.exit_code',
  pid: 'process.pid',
} as const;

/** RPC procedure numbers of the migration protocol v3 with typed params (remote_protocol.x). */
const PHASE_PROCS: Record<number, string> = {
  302: SPAN.begin3,
  303: SPAN.prepare3,
  305: SPAN.perform3,
  306: SPAN.finish3,
  307: SPAN.confirm3,
};
const PHASE_FN = /^virDomainMigrate(Begin|Prepare|Perform|Finish|Confirm)3(Params)?$/;
const RPC_LINE =
  /^RPC_CLIENT_MSG_(TX_QUEUE|RX): client=(0x[0-9a-f]+) len=\d+ prog=(\d+) vers=\d+ proc=(\d+) type=(\d+) status=(\d+) serial=(\d+)/;

/** One RPC call of the client: request queued → reply received. */
export interface ClientRpc {
  client: string;
  proc: number;
  serial: number;
  txUs: number;
  rxUs: number | null;
  /** 0 = OK, 1 = error (libvirt's virNetMessageStatus). */
  status: number | null;
  tid: number;
}

/** What virsh's client log shows. */
export interface ClientView {
  entries: LibvirtEntry[];
  rpcs: ClientRpc[];
  /** virConnectOpenAuth calls: URI, start, success line, SASL mechanism. */
  connects: { uri: string; startUs: number; endUs: number | null; tid: number; mech: string | null }[];
  migrate3: LibvirtEntry | null;
  version3Full: LibvirtEntry | null;
  /** virDomainGetJobInfo calls (virshWatchJob polls every 500 ms). */
  jobPolls: number[];
}

/** Read virsh's client log (libvirt's full log format). */
export function readClientLog(text: string): ClientView {
  const log = parseLibvirtLog(text, { side: 'source' });
  const rpcs: ClientRpc[] = [];
  const open = new Map<string, ClientRpc>();
  const connects: ClientView['connects'] = [];
  const jobPolls: number[] = [];
  for (const e of log.entries) {
    const m = RPC_LINE.exec(e.msg);
    if (m) {
      const key = `${m[2]}|${m[7]}`;
      const proc = Number(m[4]);
      if (m[1] === 'TX_QUEUE' && m[5] === '0') {
        const r: ClientRpc = {
          client: m[2]!,
          proc,
          serial: Number(m[7]),
          txUs: e.tUs,
          rxUs: null,
          status: null,
          tid: e.tid,
        };
        rpcs.push(r);
        open.set(key, r);
      } else if (m[1] === 'RX' && m[5] === '1') {
        const r = open.get(key);
        if (r && r.proc === proc) {
          r.rxUs = e.tUs;
          r.status = Number(m[6]);
          open.delete(key);
        }
      }
      continue;
    }
    if (e.fn === 'virConnectOpenAuth') {
      const uri = /name=([^,]+)/.exec(e.msg)?.[1] ?? '';
      connects.push({ uri, startUs: e.tUs, endUs: null, tid: e.tid, mech: null });
    } else if (e.fn === 'virConnectOpenInternal' && / returned SUCCESS$/.test(e.msg)) {
      const c = connects.findLast((x) => x.tid === e.tid && x.endUs === null);
      if (c) c.endUs = e.tUs;
    } else if (e.fn === 'remoteAuthSASL') {
      const mech = /with mech ([A-Z0-9-]+)/.exec(e.msg)?.[1];
      const c = connects.findLast((x) => x.tid === e.tid);
      if (mech && c) c.mech = mech;
    } else if (e.fn === 'virDomainGetJobInfo') jobPolls.push(e.tUs);
  }
  return {
    entries: log.entries,
    rpcs,
    connects,
    migrate3: log.entries.find((e) => e.fn === 'virDomainMigrate3') ?? null,
    version3Full: log.entries.find((e) => e.fn === 'virDomainMigrateVersion3Full') ?? null,
    jobPolls,
  };
}

/** A daemon log cut to [fromUs, toUs], with the extra lines of phase functions dropped (see the module comment). */
export function daemonLogWindow(text: string, side: Side, fromUs: number, toUs: number): LibvirtLog {
  const log = parseLibvirtLog(text, { side });
  const lastPhaseFn = new Map<number, string>();
  const entries = log.entries.filter((e) => {
    if (e.tUs < fromUs || e.tUs > toUs) return false;
    if (!PHASE_FN.test(e.fn)) return true;
    const repeat = lastPhaseFn.get(e.tid) === e.fn && /^(params\[|xml )/.test(e.msg);
    lastPhaseFn.set(e.tid, e.fn);
    return !repeat;
  });
  return { ...log, entries };
}

/** The inputs of one lab migration. */
export interface LabTraceInput {
  /** The two daemons' whole debug logs. */
  sourceLog: string;
  destinationLog: string;
  /** virsh's client log. */
  clientLog: string;
  /** QEMU trace-event logs (absent when QEMU wrote none). */
  qemuSourceLog?: string | null;
  qemuDestinationLog?: string | null;
  /** The virsh process, as the runner saw it. */
  virsh: { startUs: number; endUs: number; argv: string[]; exitCode: number | null; pid: number | null };
  seed?: number;
}

/** The lab's trace. */
export interface LabTrace {
  spans: PlainSpan[];
  readable: ReadableSpan[];
  notes: string[];
  client: ClientView;
  libvirt: LibvirtTrace;
  /** QEMU trace-event records read (source, destination). */
  qemuRecords: { source: number; destination: number };
}

/** Build the trace (see the module comment). Never throws on odd logs; missing parts are left out. */
export function buildLabTrace(inp: LabTraceInput): LabTrace {
  const client = readClientLog(inp.clientLog);
  const from = inp.virsh.startUs - 1000;
  const to = inp.virsh.endUs + 1000;
  const src = daemonLogWindow(inp.sourceLog, 'source', from, to);
  const dst = daemonLogWindow(inp.destinationLog, 'destination', from, to);
  const lv = libvirtSpans([src, dst]);
  const spans = lv.spans.map((s) => ({ ...s, attributes: { ...s.attributes }, events: [...s.events] }));
  const root = spans.find((s) => s.parent === null);
  const notes: string[] = [];
  const rpcEnd = Math.max(inp.virsh.startUs, ...client.rpcs.map((r) => r.rxUs ?? r.txUs));
  const virsh: PlainSpan = {
    id: 'virsh',
    parent: null,
    name: SPAN.virshMigrate,
    startUs: inp.virsh.startUs,
    endUs: inp.virsh.endUs,
    attributes: {
      [ATTR.virshFlags]: inp.virsh.argv.filter((a) => a.startsWith('--')).join(' '),
      'process.command_args': inp.virsh.argv.join(' '),
      [ATTR.process]: 'virsh',
      [ATTR.traceSource]: 'virsh-log',
      [ATTR.polls]: client.jobPolls.length,
      ...(inp.virsh.exitCode !== null ? { [LAB_ATTR.exitCode]: inp.virsh.exitCode } : {}),
      ...(inp.virsh.pid !== null ? { [LAB_ATTR.pid]: inp.virsh.pid } : {}),
    },
    events: client.jobPolls.map((tUs) => ({ name: EVENT.poll, tUs, attributes: {} })),
    links: [],
  };
  const added: PlainSpan[] = [virsh];
  client.connects.forEach((c, i) => {
    const attrs: Attributes = { [LAB_ATTR.uri]: c.uri, [ATTR.process]: 'virsh', [ATTR.threadId]: c.tid };
    if (c.mech) attrs[LAB_ATTR.saslMech] = c.mech;
    added.push({
      id: `virsh-connect${i}`,
      parent: virsh.id,
      name: LAB_SPAN.connectOpen,
      startUs: c.startUs,
      endUs: c.endUs ?? c.startUs,
      attributes: attrs,
      events: [],
      links: [],
    });
  });
  let apiParent = virsh.id;
  if (client.migrate3) {
    added.push({
      id: 'virsh-migrate3',
      parent: virsh.id,
      name: SPAN.virDomainMigrate3,
      startUs: client.migrate3.tUs,
      endUs: rpcEnd,
      attributes: {
        [ATTR.process]: 'virsh',
        [ATTR.threadId]: client.migrate3.tid,
        [ATTR.codeFunction]: client.migrate3.fn,
        [ATTR.codeLine]: client.migrate3.line,
      },
      events: [],
      links: [],
    });
    apiParent = 'virsh-migrate3';
  } else notes.push('the virsh log has no virDomainMigrate3 line');
  if (root) {
    root.parent = apiParent;
    if (client.version3Full) {
      root.startUs = client.version3Full.tUs;
      root.endUs = rpcEnd;
      delete root.attributes[ATTR.inferred];
      root.attributes[ATTR.process] = 'virsh';
      root.attributes[ATTR.threadId] = client.version3Full.tid;
      root.attributes[ATTR.codeFunction] = client.version3Full.fn;
      root.attributes[ATTR.codeLine] = client.version3Full.line;
      root.attributes[ATTR.traceSource] = 'virsh-log';
    }
    // Phases: the client's RPC round trip (request queued → reply received) bounds the daemon's work.
    const kids = new Map<string, PlainSpan[]>();
    for (const s of spans) if (s.parent) kids.set(s.parent, [...(kids.get(s.parent) ?? []), s]);
    const used = new Set<ClientRpc>();
    for (const phase of spans.filter((s) => s.parent === root.id)) {
      const rpc = client.rpcs.find(
        (r) =>
          !used.has(r) &&
          PHASE_PROCS[r.proc] === phase.name &&
          r.rxUs !== null &&
          r.txUs <= phase.startUs + 1000 &&
          r.rxUs >= phase.startUs - 1000,
      );
      if (!rpc) continue;
      used.add(rpc);
      phase.attributes[LAB_ATTR.daemonStartUs] = phase.startUs;
      phase.attributes[LAB_ATTR.rpcSerial] = rpc.serial;
      phase.startUs = Math.min(phase.startUs, rpc.txUs);
      const daemonEnd = phase.endUs;
      phase.endUs = rpc.rxUs!;
      fitToReply(phase, daemonEnd, rpc.rxUs!);
    }
    for (const r of client.rpcs)
      if (PHASE_PROCS[r.proc] && !used.has(r))
        notes.push(`client RPC ${r.proc} (serial ${r.serial}) has no matching daemon phase`);

    /**
     * The daemon's spans under a phase end by the reply the client received: a driver span the importer ran
     * to the daemon's last line of the phase runs to the reply, and spans or commands that started after
     * the reply (the worker thread serving the next call) move up to the root.
     */
    function fitToReply(s: PlainSpan, daemonEnd: number, replyUs: number): void {
      for (const k of kids.get(s.id) ?? []) {
        if (k.startUs > replyUs) {
          k.parent = root!.id;
          continue;
        }
        if (k.name === SPAN.monitorCommand || k.name.startsWith('qemu.')) continue;
        if (k.endUs >= daemonEnd || k.endUs > replyUs) k.endUs = replyUs;
        fitToReply(k, daemonEnd, replyUs);
      }
    }
  } else notes.push('the daemon logs show no migration phase while virsh ran');
  const withClient: LibvirtTrace = { ...lv, spans: [...added, ...spans] };

  const qemu: { role: 'source' | 'destination'; log: ReturnType<typeof parseTraceLog> }[] = [];
  const qs = inp.qemuSourceLog ? parseTraceLog(inp.qemuSourceLog) : null;
  const qd = inp.qemuDestinationLog ? parseTraceLog(inp.qemuDestinationLog) : null;
  if (qs && qs.records.length > 0) qemu.push({ role: 'source', log: qs });
  if (qd && qd.records.length > 0) qemu.push({ role: 'destination', log: qd });
  const merged = mergeSources({ libvirt: withClient, qemu });
  notes.push(...merged.notes);
  const readable = toReadableSpans(merged.spans, { seed: inp.seed ?? 1 });
  return {
    spans: merged.spans,
    readable,
    notes,
    client,
    libvirt: lv,
    qemuRecords: { source: qs?.records.length ?? 0, destination: qd?.records.length ?? 0 },
  };
}
