/**
 * A QMP proxy record (qmp-proxy.ts) as spans with the simulator's names: per client connection a session
 * span (monitor.command "session", as the lab writes it), one monitor.command span per command from the
 * line sent to the reply (matched by id, else in order), QMP events as span events with QEMU's own
 * timestamps, and the migration QEMU announced with MIGRATION / MIGRATION_PASS events: qemu.migration
 * with one qemu.migration.pass per pass on the source, qemu.incoming on the destination. Pure.
 */
import type { Attributes } from '@opentelemetry/api';
import { commandAttributes, qmpSpanEvent, replyAttributes } from '../import/libvirt-log.ts';
import { type PlainSpan, summarize } from '../import/plain-spans.ts';
import { ATTR, SPAN } from '../names.ts';
import type { ProxyLine, ProxyRecord } from './qmp-proxy.ts';

/** Counts of one record. */
export interface ProxyCounts {
  lines: number;
  commands: number;
  /** Commands the session ended without a reply to. */
  unanswered: number;
  events: number;
  /** Lines that are not JSON objects. */
  garbled: number;
}

type Json = Record<string, unknown>;

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** The spans of a proxy record. `idPrefix` keeps ids unique when several records are merged. */
export function proxySpans(rec: ProxyRecord, idPrefix = 'qp'): { spans: PlainSpan[]; counts: ProxyCounts } {
  const spans: PlainSpan[] = [];
  const counts: ProxyCounts = { lines: rec.lines.length, commands: 0, unanswered: 0, events: 0, garbled: 0 };
  let n = 0;
  const add = (s: Omit<PlainSpan, 'id' | 'events' | 'links'>): PlainSpan => {
    const span: PlainSpan = { id: `${idPrefix}${++n}`, events: [], links: [], ...s };
    spans.push(span);
    return span;
  };
  for (const c of rec.connections) {
    const lines = rec.lines.filter((l) => l.conn === c.conn);
    const parsed: { l: ProxyLine; msg: Json }[] = [];
    for (const l of lines) {
      const msg = parseObject(l.line);
      if (msg) parsed.push({ l, msg });
      else counts.garbled++;
    }
    const side = rec.side ?? inferSide(parsed.map((p) => p.msg));
    const process = `qemu monitor (${side})`;
    const endUs = c.closeUs ?? rec.endUs ?? lines[lines.length - 1]?.tUs ?? c.openUs;
    const greeting = parsed.find((p) => p.l.dir === 'recv' && 'QMP' in p.msg)?.msg;
    const v = (greeting?.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } })
      ?.version?.qemu;
    const root = add({
      parent: null,
      name: SPAN.monitorCommand,
      startUs: c.openUs,
      endUs,
      attributes: {
        [ATTR.monitorCommand]: 'session',
        [ATTR.monitorSide]: side,
        [ATTR.process]: process,
        [ATTR.traceSource]: 'qmp-proxy',
        [ATTR.source]: 'real',
        'monitor.connection': c.conn,
        ...(v ? { [ATTR.qemuVersion]: `${v.major}.${v.minor}.${v.micro}` } : {}),
        ...(c.error ? { 'monitor.connection_error': c.error } : {}),
      },
    });
    // Commands wait for replies by id; id-less commands are answered in order (QMP answers in order).
    const byId = new Map<string, PlainSpan>();
    const inOrder: PlainSpan[] = [];
    const statuses: { tUs: number; status: string }[] = [];
    const passes: { tUs: number; pass: number }[] = [];
    let migrate: PlainSpan | null = null;
    for (const { l, msg } of parsed) {
      if (l.dir === 'send') {
        const command =
          typeof msg.execute === 'string'
            ? msg.execute
            : typeof msg['exec-oob'] === 'string'
              ? msg['exec-oob']
              : null;
        if (!command) continue;
        counts.commands++;
        const args = msg.arguments as Json | undefined;
        const attrs: Attributes = {
          [ATTR.monitorCommand]: command,
          [ATTR.monitorSide]: side,
          [ATTR.process]: process,
          [ATTR.traceSource]: 'qmp-proxy',
          ...commandAttributes(command, args),
        };
        if (msg.id !== undefined) attrs[ATTR.monitorId] = summarize(msg.id, 64);
        if (args !== undefined) attrs[ATTR.monitorArguments] = summarize(args);
        const span = add({
          parent: root.id,
          name: SPAN.monitorCommand,
          startUs: l.tUs,
          endUs: l.tUs,
          attributes: attrs,
        });
        span.attributes[ATTR.inferred] = true; // until a reply comes
        if (msg.id !== undefined) byId.set(JSON.stringify(msg.id), span);
        else inOrder.push(span);
        if (command === 'migrate') migrate = span;
        continue;
      }
      if ('event' in msg) {
        counts.events++;
        const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
        const tUs = ts && typeof ts.seconds === 'number' ? ts.seconds * 1e6 + (ts.microseconds ?? 0) : l.tUs;
        root.events.push(qmpSpanEvent(msg, tUs));
        const data = (msg.data ?? {}) as Json;
        if (msg.event === 'MIGRATION') statuses.push({ tUs, status: String(data.status) });
        if (msg.event === 'MIGRATION_PASS') passes.push({ tUs, pass: Number(data.pass) });
        continue;
      }
      if ('return' in msg || 'error' in msg) {
        const span = msg.id !== undefined ? byId.get(JSON.stringify(msg.id)) : inOrder.shift();
        if (!span) continue;
        if (msg.id !== undefined) byId.delete(JSON.stringify(msg.id));
        span.endUs = l.tUs;
        delete span.attributes[ATTR.inferred];
        Object.assign(span.attributes, replyAttributes(String(span.attributes[ATTR.monitorCommand]), msg));
      }
    }
    for (const s of [...byId.values(), ...inOrder]) {
      counts.unanswered++;
      s.endUs = Math.max(s.startUs, endUs);
      s.attributes[ATTR.monitorReply] = 'none';
    }
    migrationSpans(add, root, side, statuses, passes, migrate, endUs, process);
  }
  return { spans, counts };
}

/** qemu.migration (with its passes) or qemu.incoming from the MIGRATION events of one monitor. */
function migrationSpans(
  add: (s: Omit<PlainSpan, 'id' | 'events' | 'links'>) => PlainSpan,
  root: PlainSpan,
  side: string,
  statuses: { tUs: number; status: string }[],
  passes: { tUs: number; pass: number }[],
  migrate: PlainSpan | null,
  sessionEndUs: number,
  process: string,
): void {
  const first = side === 'source' ? statuses.find((s) => s.status === 'setup') : statuses[0];
  if (!first) return;
  const end = statuses.find((s) => s.tUs >= first.tUs && TERMINAL.has(s.status));
  const endUs = end?.tUs ?? sessionEndUs;
  const common = { [ATTR.monitorSide]: side, [ATTR.process]: process, [ATTR.traceSource]: 'qmp-proxy' };
  if (side !== 'source') {
    add({
      parent: root.id,
      name: SPAN.incoming,
      startUs: first.tUs,
      endUs,
      attributes: { ...common, [ATTR.state]: end?.status ?? 'unfinished' },
    });
    return;
  }
  const mig = add({
    parent: root.id,
    name: SPAN.migration,
    startUs: first.tUs,
    endUs,
    attributes: {
      ...common,
      [ATTR.outcome]: end?.status ?? 'unfinished',
      ...(migrate?.attributes[ATTR.uri] !== undefined ? { [ATTR.uri]: migrate.attributes[ATTR.uri] } : {}),
    },
  });
  if (migrate) mig.links.push(migrate.id);
  const ps = passes.filter((p) => p.tUs >= first.tUs && p.tUs <= endUs);
  ps.forEach((p, i) => {
    add({
      parent: mig.id,
      name: SPAN.pass,
      startUs: p.tUs,
      endUs: ps[i + 1]?.tUs ?? endUs,
      attributes: { [ATTR.pass]: p.pass, [ATTR.iteration]: p.pass, ...common },
    });
  });
}

function parseObject(line: string): Json | null {
  try {
    const v = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
  } catch {
    return null;
  }
}

/** A monitor that was told to `migrate` is the source; one told `migrate-incoming` the destination. */
function inferSide(msgs: Json[]): 'source' | 'destination' {
  for (const m of msgs) {
    if (m.execute === 'migrate') return 'source';
    if (m.execute === 'migrate-incoming') return 'destination';
  }
  return 'source';
}
