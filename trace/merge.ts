/**
 * One migration seen from several places (libvirt debug logs, a QMP proxy record or a lab record, QEMU
 * trace-event logs) merged into one trace (one traceId) whose tree reads
 * libvirt API → qemu driver → monitor commands, with QEMU's migration (and its passes) under the driver
 * span that issued `migrate`, as the simulator nests it (models/libvirt-9.0/migrate.ts), and linked to the
 * `migrate` command span. Every source stamps CLOCK_REALTIME (libvirt in ms, QEMU and the proxy in µs), so
 * sources align by their wall-clock timestamps; a libvirt log without dates is shifted by whole days.
 *
 * Rules: the first of libvirt log, lab record, proxy record present is the backbone. A monitor command
 * seen by two sources (same side and command, same QMP id when both know it, starts within 50 ms) is kept
 * once, with the finer clock's times. One qemu.migration per side is kept: the lab's, else the QEMU trace
 * log's, else the proxy's (from MIGRATION events). Other sources' session spans dissolve into the backbone.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { LibvirtTrace } from './import/libvirt-log.ts';
import { attrString, fromReadableSpans, type PlainSpan, toReadableSpans } from './import/plain-spans.ts';
import { type TraceLog, traceSpans } from './import/qemu-trace-events.ts';
import { assembleLab } from './lab/assemble.ts';
import type { LabRecord } from './lab/run.ts';
import { ATTR, SPAN } from './names.ts';
import type { ProxyRecord } from './proxy/qmp-proxy.ts';
import { proxySpans } from './proxy/spans.ts';

/** The sources of one migration. */
export interface MergeSources {
  libvirt?: LibvirtTrace | null;
  /** QMP proxy records (one per monitor). */
  proxies?: readonly ProxyRecord[];
  lab?: LabRecord | null;
  /** QEMU trace-event logs, parsed. With a lab record they go into the lab's assembly. */
  qemu?: readonly { role: 'source' | 'destination'; log: TraceLog }[];
}

/** A merged trace. */
export interface MergedTrace {
  spans: PlainSpan[];
  /** Things the user should know (a shifted clock, sources that do not overlap). */
  notes: string[];
  /** Monitor commands seen by two sources and kept once. */
  deduplicated: number;
}

const DAY_US = 86_400e6;
/** Two sources' records of one command start within this long (libvirt logs ms after the write). */
const MATCH_US = 50_000;

const sideOf = (s: PlainSpan): string | undefined =>
  attrString(s.attributes, ATTR.monitorSide) ?? attrString(s.attributes, ATTR.labRole);
const isSession = (s: PlainSpan) =>
  s.name === SPAN.monitorCommand && s.attributes[ATTR.monitorCommand] === 'session';
const isCommand = (s: PlainSpan) => s.name === SPAN.monitorCommand && !isSession(s);
const isQemuTop = (s: PlainSpan) => s.name === SPAN.migration || s.name === SPAN.incoming;

/** Merge the sources of one migration into plain spans (see the module comment for the rules). */
export function mergeSources(src: MergeSources): MergedTrace {
  const notes: string[] = [];
  const groups: { kind: 'libvirt' | 'lab' | 'proxy' | 'qemu'; spans: PlainSpan[] }[] = [];
  const prefix = (p: string, spans: PlainSpan[]) =>
    spans.map((s) => ({
      ...s,
      id: p + s.id,
      parent: s.parent === null ? null : p + s.parent,
      links: s.links.map((l) => p + l),
      attributes: { ...s.attributes },
      events: [...s.events],
    }));
  if (src.libvirt && src.libvirt.spans.length > 0)
    groups.push({ kind: 'libvirt', spans: prefix('lv:', src.libvirt.spans) });
  if (src.lab) {
    const traces = {
      source: src.qemu?.find((q) => q.role === 'source')?.log ?? null,
      destination: src.qemu?.find((q) => q.role === 'destination')?.log ?? null,
    };
    const lab = fromReadableSpans(assembleLab(src.lab, traces).spans);
    for (const s of lab) s.attributes[ATTR.traceSource] ??= 'lab';
    groups.push({ kind: 'lab', spans: prefix('lab:', lab) });
  }
  (src.proxies ?? []).forEach((r, i) => {
    groups.push({ kind: 'proxy', spans: prefix(`qp${i}:`, proxySpans(r).spans) });
  });
  if (!src.lab)
    (src.qemu ?? []).forEach((q, i) => {
      groups.push({ kind: 'qemu', spans: prefix(`qt${i}:`, qemuTraceSpans(q.log, q.role)) });
    });
  if (groups.length === 0) return { spans: [], notes, deduplicated: 0 };

  // Clock: a libvirt log without dates is time-of-day; move it to the day of the other sources.
  const lv = groups.find((g) => g.kind === 'libvirt');
  const others = groups.filter((g) => g !== lv && g.spans.length > 0);
  if (lv && src.libvirt && !src.libvirt.dated && others.length > 0) {
    const ref = Math.min(...others.flatMap((g) => g.spans.map((s) => s.startUs)));
    const start = Math.min(...lv.spans.map((s) => s.startUs));
    const days = Math.round((ref - start) / DAY_US);
    if (days !== 0) {
      for (const s of lv.spans) shift(s, days * DAY_US);
      notes.push(`the libvirt log has no dates: moved ${days} days to the other sources' day`);
    }
  }
  const ranges = groups.map((g) => ({
    kind: g.kind,
    start: Math.min(...g.spans.map((s) => s.startUs)),
    end: Math.max(...g.spans.map((s) => s.endUs)),
  }));
  for (const a of ranges)
    for (const b of ranges)
      if (a.kind < b.kind && (a.end + 60e6 < b.start || b.end + 60e6 < a.start))
        notes.push(
          `the ${a.kind} and ${b.kind} sources are more than 60 s apart: are they the same migration?`,
        );

  const backbone =
    groups.find((g) => g.kind === 'libvirt') ?? groups.find((g) => g.kind === 'lab') ?? groups[0]!;
  const all: PlainSpan[] = groups.flatMap((g) => g.spans);
  const byId = new Map(all.map((s) => [s.id, s]));
  const dropped = new Set<string>();
  const reparent = new Map<string, string>();
  const bb = new Set(backbone.spans.map((s) => s.id));
  const bbRoot = backbone.spans.find((s) => s.parent === null)!;
  /** Backbone spans that can hold others: not commands, not QEMU's own spans. */
  const holders = backbone.spans.filter((s) => !isCommand(s) && !s.name.startsWith('qemu.') && s !== bbRoot);
  const holder = (side: string | undefined, tUs: number): PlainSpan => {
    let best: PlainSpan | null = null;
    for (const h of holders) {
      const hs = sideOf(h);
      if ((side && hs && hs !== side) || h.startUs > tUs || h.endUs < tUs) continue;
      if (!best || h.startUs >= best.startUs) best = h;
    }
    return best ?? bbRoot;
  };

  // 1. One qemu.migration / qemu.incoming per side: lab, else QEMU trace log, else proxy.
  const rank = { lab: 0, qemu: 1, proxy: 2, libvirt: 3 } as const;
  const tops = groups.flatMap((g) => g.spans.filter(isQemuTop).map((s) => ({ s, r: rank[g.kind] })));
  for (const name of [SPAN.migration, SPAN.incoming]) {
    const cands = tops.filter((t) => t.s.name === name).sort((a, b) => a.r - b.r);
    for (const c of cands.slice(1)) dropSubtree(c.s.id);
  }

  // 2. Monitor commands seen twice: keep the backbone's span, with the finer times and all attributes.
  let deduplicated = 0;
  const bbCommands = backbone.spans.filter(isCommand);
  const taken = new Set<string>();
  for (const g of groups) {
    if (g === backbone) continue;
    for (const s of g.spans) {
      if (!isCommand(s) || dropped.has(s.id)) continue;
      const match = bestMatch(s, bbCommands, taken);
      if (match) {
        taken.add(match.id);
        deduplicated++;
        if (g.kind !== 'libvirt') {
          // µs clocks (proxy, lab) beat libvirt's ms lines.
          match.startUs = s.startUs;
          match.endUs = s.endUs;
        }
        for (const [k, v] of Object.entries(s.attributes))
          if (!(k in match.attributes)) match.attributes[k] = v;
        reparent.set(s.id, match.id);
        dropped.add(s.id);
      }
    }
  }

  // 3. Other sources' sessions dissolve: their spans and events move to the backbone span holding them.
  for (const g of groups) {
    if (g === backbone) continue;
    for (const s of g.spans) {
      if (!isSession(s) || dropped.has(s.id)) continue;
      dropped.add(s.id);
      for (const e of s.events) holder(sideOf(s), e.tUs).events.push(e);
      for (const k of all)
        if (k.parent === s.id) k.parent = isQemuTop(k) ? null : holder(sideOf(k) ?? sideOf(s), k.startUs).id;
    }
  }

  // 4. QEMU's spans from other sources go under the span that issued `migrate` (linked to the command).
  const migrateCmd = all.find(
    (s) =>
      bb.has(s.id) &&
      isCommand(s) &&
      s.attributes[ATTR.monitorCommand] === 'migrate' &&
      sideOf(s) !== 'destination',
  );
  for (const s of all) {
    if (bb.has(s.id) || dropped.has(s.id) || !isQemuTop(s)) continue;
    if (s.parent !== null && byId.has(s.parent) && !dropped.has(s.parent)) continue;
    if (s.name === SPAN.migration && migrateCmd) {
      s.parent = migrateCmd.parent ?? bbRoot.id;
      if (!s.links.includes(migrateCmd.id)) s.links.push(migrateCmd.id);
    } else s.parent = holder(sideOf(s), s.startUs).id;
  }

  // 5. Everything else that lost its parent, and every other root, joins the backbone.
  const out = all.filter((s) => !dropped.has(s.id));
  for (const s of out) {
    if (s === bbRoot) continue;
    if (s.parent !== null) {
      const p = reparent.get(s.parent) ?? s.parent;
      s.parent = byId.has(p) && !dropped.has(p) ? p : holder(sideOf(s), s.startUs).id;
    } else s.parent = holder(sideOf(s), s.startUs).id;
    s.links = s.links.map((l) => reparent.get(l) ?? l).filter((l) => byId.has(l) && !dropped.has(l));
  }
  bbRoot.startUs = Math.min(...out.map((s) => s.startUs));
  bbRoot.endUs = Math.max(...out.map((s) => s.endUs));
  for (const s of out) s.events.sort((a, b) => a.tUs - b.tUs);
  return { spans: out, notes, deduplicated };

  function dropSubtree(id: string): void {
    dropped.add(id);
    for (const s of all) if (s.parent === id && !dropped.has(s.id)) dropSubtree(s.id);
  }
}

/** The closest backbone command to `s`: same side and name, same id when both know it, within 50 ms. */
function bestMatch(s: PlainSpan, cands: PlainSpan[], taken: Set<string>): PlainSpan | null {
  const name = s.attributes[ATTR.monitorCommand];
  const side = sideOf(s);
  const id = attrString(s.attributes, ATTR.monitorId);
  let best: PlainSpan | null = null;
  for (const c of cands) {
    if (taken.has(c.id) || c.attributes[ATTR.monitorCommand] !== name) continue;
    const cs = sideOf(c);
    if (side && cs && side !== cs) continue;
    const cid = attrString(c.attributes, ATTR.monitorId);
    if (id && cid && id !== cid) continue;
    const d = Math.abs(c.startUs - s.startUs);
    if (d > MATCH_US) continue;
    if (!best || d < Math.abs(best.startUs - s.startUs)) best = c;
  }
  return best;
}

function shift(s: PlainSpan, us: number): void {
  s.startUs += us;
  s.endUs += us;
  for (const e of s.events) e.tUs += us;
}

/** A QEMU trace log's spans (trace/import/qemu-trace-events.ts) as plain spans. */
export function qemuTraceSpans(log: TraceLog, role: 'source' | 'destination'): PlainSpan[] {
  const tids = new Map<string, number>();
  for (const r of log.records) if (!tids.has(r.event)) tids.set(r.event, r.tid);
  return traceSpans(log, role).map((t, i) => ({
    id: `t${i}`,
    parent: t.parent === null ? null : `t${t.parent}`,
    name: t.name,
    startUs: t.startUs,
    endUs: t.endUs,
    attributes: {
      ...t.attributes,
      [ATTR.monitorSide]: role,
      [ATTR.process]: `qemu (${role})`,
      [ATTR.traceSource]: 'qemu-trace',
      // The migration thread logs savevm_* and the rate limiter; the main loop logs the state changes.
      ...(tids.has('savevm_state_iterate') ? { [ATTR.threadId]: tids.get('savevm_state_iterate')! } : {}),
    },
    events: t.events.map((e) => ({ ...e })),
    links: [],
  }));
}

/** Merge and stamp: the merged spans as one OpenTelemetry trace. */
export function mergeTrace(src: MergeSources, seed = 1): MergedTrace & { readable: ReadableSpan[] } {
  const merged = mergeSources(src);
  return { ...merged, readable: toReadableSpans(merged.spans, { seed }) };
}
