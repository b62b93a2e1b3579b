/**
 * virsh's client debug log (LIBVIRT_LOG_OUTPUTS / LIBVIRT_LOG_FILTERS="1:libvirt 1:remote 2:rpc" of the
 * client, libvirt's full line format) as the client half of a migration's trace: the public API calls and
 * every RPC's RPC_CLIENT_MSG_TX_QUEUE (request queued) / RPC_CLIENT_MSG_RX (reply received) line. With it
 * the tree starts where the user's command does (the simulator's, models/libvirt-9.0/migrate.ts):
 *
 *   virsh.migrate → libvirt.virConnectOpenAuth (one per connection)
 *                 → libvirt.virDomainMigrate3 → libvirt.virDomainMigrateVersion3Full
 *                   → libvirt.Begin3 / Prepare3 / Perform3 / Finish3 / Confirm3 (the client's RPC round trips)
 *                     → the daemons' spans of that phase (trace/import/libvirt-log.ts), when given
 *
 * instead of the daemon logs' inferred root. Nothing here throws on bad input.
 */
import type { Attributes } from '@opentelemetry/api';
import { ATTR, EVENT, SPAN } from '../names.ts';
import { type LibvirtEntry, type LibvirtTrace, parseLibvirtLog } from './libvirt-log.ts';
import type { PlainSpan } from './plain-spans.ts';

/** Spans only the client log gives (the client's connections; the simulator folds them into RPC time). */
export const CLIENT_SPAN = {
  connectOpen: 'libvirt.virConnectOpenAuth',
} as const;

/** Attribute keys only the client log gives. */
export const CLIENT_ATTR = {
  uri: 'libvirt.uri',
  saslMech: 'libvirt.auth.sasl_mech',
  rpcSerial: ATTR.rpcSerial,
  /** When the daemon logged the API entry point (its log has ms resolution), µs since the epoch. */
  daemonStartUs: 'libvirtd.api_start_us',
  exitCode: 'process.exit_code',
  pid: 'process.pid',
} as const;

/** RPC procedure numbers of the migration protocol v3 with typed params (remote_protocol.x). */
export const PHASE_PROCS: Record<number, string> = {
  302: SPAN.begin3,
  303: SPAN.prepare3,
  305: SPAN.perform3,
  306: SPAN.finish3,
  307: SPAN.confirm3,
};
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
  /** Non-empty lines read, and those that could not be read (counted, skipped). */
  lines: number;
  garbled: number;
  garbledSamples: string[];
}

/** Read virsh's client log (libvirt's full log format). Never throws. */
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
    lines: log.lines,
    garbled: log.garbled,
    garbledSamples: log.garbledSamples,
  };
}

/** The migration's phase RPCs of the client (Begin3 .. Confirm3), in the order they were sent. */
export function phaseRpcs(client: ClientView): ClientRpc[] {
  return client.rpcs.filter((r) => PHASE_PROCS[r.proc] !== undefined);
}

/**
 * The client's migration window: from virDomainMigrate3 (else the first phase RPC) to the last phase
 * reply, widened by `marginUs`; null when the log shows no migration.
 */
export function clientWindow(
  client: ClientView,
  marginUs = 100_000,
): { fromUs: number; toUs: number } | null {
  const phases = phaseRpcs(client);
  const from = client.migrate3?.tUs ?? phases[0]?.txUs;
  if (from === undefined) return null;
  const to = Math.max(from, ...phases.map((r) => r.rxUs ?? r.txUs));
  return { fromUs: from - marginUs, toUs: to + marginUs };
}

/** The virsh process, when the caller saw it run (else its window is the log's first to last line). */
export interface VirshProcess {
  startUs: number;
  endUs: number;
  argv: string[];
  exitCode: number | null;
  pid: number | null;
}

/** The client's tree over the daemons' trace, and what did not fit. */
export interface ClientTrace {
  /** The daemons' trace with the client spans added; its one root is virsh.migrate. */
  trace: LibvirtTrace;
  notes: string[];
}

/**
 * Put the client's spans over the daemons' trace (`daemon`, from libvirtSpans; null or empty when only the
 * client log is given): virsh.migrate → virDomainMigrate3 → the daemon trace's root, which becomes the
 * client's virDomainMigrateVersion3Full. Each daemon phase becomes the client's RPC round trip (request
 * queued → reply received; the daemon's own start is kept as `libvirtd.api_start_us`), and daemon spans
 * under it end by the reply. A phase RPC no daemon phase matches is a span of its own.
 */
export function withClientLog(
  client: ClientView,
  daemon: LibvirtTrace | null,
  opts: { virsh?: VirshProcess } = {},
): ClientTrace {
  const notes: string[] = [];
  const spans = (daemon?.spans ?? []).map((s) => ({
    ...s,
    attributes: { ...s.attributes },
    events: [...s.events],
  }));
  const daemonRoot = spans.find((s) => s.parent === null) ?? null;
  const phaseCalls = phaseRpcs(client);
  // The API call returns with the last phase's reply (later RPCs close the connections).
  const rpcEnd = Math.max(
    opts.virsh?.startUs ?? client.entries[0]?.tUs ?? 0,
    ...(phaseCalls.length > 0 ? phaseCalls : client.rpcs).map((r) => r.rxUs ?? r.txUs),
  );
  const v = opts.virsh;
  const virsh: PlainSpan = {
    id: 'virsh',
    parent: null,
    name: SPAN.virshMigrate,
    startUs: v?.startUs ?? client.entries[0]?.tUs ?? rpcEnd,
    endUs: v?.endUs ?? Math.max(rpcEnd, client.entries[client.entries.length - 1]?.tUs ?? rpcEnd),
    attributes: {
      ...(v
        ? {
            [ATTR.virshFlags]: v.argv.filter((a) => a.startsWith('--')).join(' '),
            'process.command_args': v.argv.join(' '),
          }
        : {}),
      [ATTR.process]: 'virsh',
      [ATTR.traceSource]: 'virsh-log',
      [ATTR.polls]: client.jobPolls.length,
      ...(v && v.exitCode !== null ? { [CLIENT_ATTR.exitCode]: v.exitCode } : {}),
      ...(v && v.pid !== null ? { [CLIENT_ATTR.pid]: v.pid } : {}),
    },
    events: client.jobPolls.map((tUs) => ({ name: EVENT.poll, tUs, attributes: {} })),
    links: [],
  };
  const added: PlainSpan[] = [virsh];
  client.connects.forEach((c, i) => {
    const attrs: Attributes = { [CLIENT_ATTR.uri]: c.uri, [ATTR.process]: 'virsh', [ATTR.threadId]: c.tid };
    if (c.mech) attrs[CLIENT_ATTR.saslMech] = c.mech;
    added.push({
      id: `virsh-connect${i}`,
      parent: virsh.id,
      name: CLIENT_SPAN.connectOpen,
      startUs: c.startUs,
      endUs: c.endUs ?? c.startUs,
      attributes: attrs,
      events: [],
      links: [],
    });
  });
  const clientAttrs = (e: LibvirtEntry): Attributes => ({
    [ATTR.process]: 'virsh',
    [ATTR.threadId]: e.tid,
    [ATTR.codeFunction]: e.fn,
    [ATTR.codeLine]: e.line,
    [ATTR.traceSource]: 'virsh-log',
  });
  let apiParent = virsh.id;
  if (client.migrate3) {
    added.push({
      id: 'virsh-migrate3',
      parent: virsh.id,
      name: SPAN.virDomainMigrate3,
      startUs: client.migrate3.tUs,
      endUs: rpcEnd,
      attributes: clientAttrs(client.migrate3),
      events: [],
      links: [],
    });
    apiParent = 'virsh-migrate3';
  } else notes.push('the virsh log has no virDomainMigrate3 line');

  // The protocol's driver: the daemon trace's root, or the client's own when no daemon log is given.
  let root = daemonRoot;
  if (!root && (client.version3Full || phaseCalls.length > 0)) {
    root = {
      id: 'virsh-version3',
      parent: null,
      name: SPAN.virDomainMigrateVersion3,
      startUs: client.version3Full?.tUs ?? phaseCalls[0]!.txUs,
      endUs: rpcEnd,
      attributes: { [ATTR.process]: 'virsh', [ATTR.traceSource]: 'virsh-log' },
      events: [],
      links: [],
    };
    added.push(root);
  }
  if (!root) {
    notes.push('neither the virsh log nor the daemon logs show a migration phase');
    return { trace: emptyLike(daemon, [...added, ...spans]), notes };
  }
  root.parent = apiParent;
  if (client.version3Full) {
    root.startUs = client.version3Full.tUs;
    root.endUs = rpcEnd;
    delete root.attributes[ATTR.inferred];
    Object.assign(root.attributes, clientAttrs(client.version3Full));
  }
  // Phases: the client's RPC round trip (request queued → reply received) bounds the daemon's work.
  const kids = new Map<string, PlainSpan[]>();
  for (const s of spans) if (s.parent) kids.set(s.parent, [...(kids.get(s.parent) ?? []), s]);
  const used = new Set<ClientRpc>();
  for (const phase of spans.filter((s) => s.parent === root.id)) {
    const rpc = phaseCalls.find(
      (r) =>
        !used.has(r) &&
        PHASE_PROCS[r.proc] === phase.name &&
        r.rxUs !== null &&
        r.txUs <= phase.startUs + 1000 &&
        r.rxUs >= phase.startUs - 1000,
    );
    if (!rpc) continue;
    used.add(rpc);
    phase.attributes[CLIENT_ATTR.daemonStartUs] = phase.startUs;
    phase.attributes[CLIENT_ATTR.rpcSerial] = rpc.serial;
    phase.startUs = Math.min(phase.startUs, rpc.txUs);
    const daemonEnd = phase.endUs;
    phase.endUs = rpc.rxUs!;
    fitToReply(phase, daemonEnd, rpc.rxUs!);
  }
  phaseCalls.forEach((r) => {
    if (used.has(r)) return;
    if (daemonRoot) notes.push(`client RPC ${r.proc} (serial ${r.serial}) has no matching daemon phase`);
    const attrs: Attributes = {
      [ATTR.rpcProc]: r.proc,
      [CLIENT_ATTR.rpcSerial]: r.serial,
      [ATTR.process]: 'virsh',
      [ATTR.threadId]: r.tid,
      [ATTR.traceSource]: 'virsh-log',
    };
    if (r.rxUs === null) attrs[ATTR.inferred] = true;
    else if (r.status) attrs[ATTR.outcome] = 'error';
    added.push({
      id: `virsh-rpc${r.serial}-${r.client}`,
      parent: root.id,
      name: PHASE_PROCS[r.proc]!,
      startUs: r.txUs,
      endUs: r.rxUs ?? r.txUs,
      attributes: attrs,
      events: [],
      links: [],
    });
  });
  return { trace: emptyLike(daemon, [...added, ...spans]), notes };

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

  function emptyLike(d: LibvirtTrace | null, all: PlainSpan[]): LibvirtTrace {
    return {
      spans: all,
      counts: d?.counts ?? {
        lines: 0,
        entries: 0,
        garbled: 0,
        continuation: 0,
        truncated: 0,
        commands: 0,
        unanswered: 0,
        events: 0,
      },
      garbledSamples: d?.garbledSamples ?? [],
      dated: d?.dated ?? true,
      window: d?.window ?? null,
      outside: d?.outside ?? 0,
      rpcBounded: d?.rpcBounded ?? 0,
    };
  }
}
