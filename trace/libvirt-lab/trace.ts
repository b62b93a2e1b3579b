/**
 * The trace of one real `virsh migrate --live` between the libvirt lab's two daemons, from the logs it
 * leaves: virsh's own client debug log (trace/import/libvirt-client-log.ts: the public API calls and every
 * RPC's RPC_CLIENT_MSG_TX_QUEUE / RPC_CLIENT_MSG_RX line), both libvirtd debug logs
 * (trace/import/libvirt-log.ts) and both QEMUs' trace-event logs (trace/import/qemu-trace-events.ts), merged
 * by trace/merge.ts. The tree is the simulator's (models/libvirt-9.0/migrate.ts):
 *
 *   virsh.migrate → libvirt.virDomainMigrate3 → libvirt.virDomainMigrateVersion3Full
 *     → libvirt.Begin3 / Prepare3 / Perform3 / Finish3 / Confirm3 (client RPC round trips)
 *       → libvirtd.qemuMigrationSrc* / Dst* → monitor.command (getfd, migrate, migrate-continue, cont, ...)
 *         → qemu.migration → setup, dirty_sync, pass, window, complete
 *
 * The daemons log their whole lives (start-up, capability probing, domain start); only what they logged
 * while virsh ran is imported (libvirtSpans' window). The importer opens one phase per API call although
 * libvirt 9.0 logs an API's typed parameters and XML as more lines of the API function, and the client's
 * RPC reply bounds each phase (a daemon worker thread serves other calls after a phase returns).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  CLIENT_ATTR,
  CLIENT_SPAN,
  type ClientView,
  readClientLog,
  withClientLog,
} from '../import/libvirt-client-log.ts';
import {
  type LibvirtLog,
  type LibvirtTrace,
  libvirtSpans,
  parseLibvirtLog,
  type Side,
} from '../import/libvirt-log.ts';
import { type PlainSpan, toReadableSpans } from '../import/plain-spans.ts';
import { parseTraceLog } from '../import/qemu-trace-events.ts';
import { mergeSources } from '../merge.ts';
import { ATTR } from '../names.ts';

export { type ClientRpc, type ClientView, readClientLog } from '../import/libvirt-client-log.ts';

/** Spans only the libvirt lab writes (the client's connections; the simulator folds them into RPC time). */
export const LAB_SPAN = CLIENT_SPAN;

/** Attribute keys only the libvirt lab writes. */
export const LAB_ATTR = CLIENT_ATTR;

const PHASE_FN = /^virDomainMigrate(Begin|Prepare|Perform|Finish|Confirm)3(Params)?$/;

/**
 * A daemon log cut to [fromUs, toUs], with the extra `params[...]` / `xml` lines of phase functions dropped.
 * libvirtSpans no longer needs this (it opens one phase per call and takes a window); kept for callers.
 */
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
  const window = { fromUs: inp.virsh.startUs - 1000, toUs: inp.virsh.endUs + 1000 };
  const src = parseLibvirtLog(inp.sourceLog, { side: 'source' });
  const dst = parseLibvirtLog(inp.destinationLog, { side: 'destination' });
  const lv = libvirtSpans([src, dst], { window });
  const notes: string[] = [];
  if (!lv.spans.some((s) => s.attributes[ATTR.rpcProc] !== undefined))
    notes.push('the daemon logs show no migration phase while virsh ran');
  const withClient = withClientLog(client, lv, { virsh: inp.virsh });
  notes.push(...withClient.notes);

  const qemu: { role: 'source' | 'destination'; log: ReturnType<typeof parseTraceLog> }[] = [];
  const qs = inp.qemuSourceLog ? parseTraceLog(inp.qemuSourceLog) : null;
  const qd = inp.qemuDestinationLog ? parseTraceLog(inp.qemuDestinationLog) : null;
  if (qs && qs.records.length > 0) qemu.push({ role: 'source', log: qs });
  if (qd && qd.records.length > 0) qemu.push({ role: 'destination', log: qd });
  const merged = mergeSources({ libvirt: withClient.trace, qemu });
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
