/**
 * trace/merge.ts with the libvirt importer: one migration's libvirt logs, QEMU trace log, lab record and
 * QMP proxy record merged into one trace (one traceId) on the wall clock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libvirtSpans, parseLibvirtLog } from '../../../trace/import/libvirt-log.ts';
import type { PlainSpan } from '../../../trace/import/plain-spans.ts';
import { parseTraceLog } from '../../../trace/import/qemu-trace-events.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import type { LabRecord } from '../../../trace/lab/run.ts';
import { mergeSources, mergeTrace } from '../../../trace/merge.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';
import type { ProxyLine, ProxyRecord } from '../../../trace/proxy/qmp-proxy.ts';

const LV = join(REPO_ROOT, 'test/fixtures/libvirt');
const LAB = join(REPO_ROOT, 'test/fixtures/lab/recorded-dirty');
const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');
const managed = () =>
  libvirtSpans([parseLibvirtLog(read(LV, 'managed-src.log')), parseLibvirtLog(read(LV, 'managed-dst.log'))]);
const qemuSrc = () => parseTraceLog(read(LV, 'managed-qemu-src-trace.log'));

function helpers(spans: PlainSpan[]) {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const parent = (s: PlainSpan) => (s.parent ? byId.get(s.parent)! : null);
  const path = (s: PlainSpan): string[] => (s.parent ? [...path(parent(s)!), s.name] : [s.name]);
  return { byId, parent, path };
}

/** A proxy record of the lab run's source monitor, as if the lab had talked through the proxy. */
function proxyOfLab(rec: LabRecord): ProxyRecord {
  const lines: ProxyLine[] = [];
  rec.source.exchanges.forEach((x, i) => {
    const id = `m${i + 1}`;
    lines.push({
      conn: 1,
      dir: 'send',
      tUs: x.sentUs + 30,
      line: JSON.stringify({ execute: x.command, arguments: x.arguments, id }),
    });
    if (x.receivedUs !== null)
      lines.push({
        conn: 1,
        dir: 'recv',
        tUs: x.receivedUs - 30,
        line: JSON.stringify(x.ok ? { return: x.reply, id } : { error: x.reply, id }),
      });
  });
  for (const e of rec.source.events)
    lines.push({
      conn: 1,
      dir: 'recv',
      tUs: e.receivedUs,
      line: JSON.stringify({
        timestamp: { seconds: Math.floor(e.tUs / 1e6), microseconds: e.tUs % 1e6 },
        event: e.event,
        data: e.data,
      }),
    });
  lines.sort((a, b) => a.tUs - b.tUs);
  return {
    kind: 'migscope-qmp-record',
    version: 1,
    side: 'source',
    listen: '/tmp/p.sock',
    qemu: '/tmp/q.sock',
    startUs: rec.sessionStartUs,
    endUs: rec.sessionEndUs,
    connections: [
      {
        conn: 1,
        openUs: rec.sessionStartUs + 10,
        closeUs: rec.sessionEndUs,
        sentBytes: 0,
        receivedBytes: 0,
        error: null,
      },
    ],
    lines,
  };
}

describe('mergeSources: libvirt logs + QEMU trace log', () => {
  const m = mergeTrace({ libvirt: managed(), qemu: [{ role: 'source', log: qemuSrc() }] }, 5);
  const { parent, path, byId } = helpers(m.spans);

  it('makes one trace with one root: libvirt API → driver → QEMU migration → passes', () => {
    expect(new Set(m.readable.map((s) => s.spanContext().traceId)).size).toBe(1);
    const roots = m.spans.filter((s) => s.parent === null);
    expect(roots.map((r) => r.name)).toEqual([SPAN.virDomainMigrateVersion3]);
    const mig = m.spans.filter((s) => s.name === SPAN.migration);
    expect(mig).toHaveLength(1);
    expect(path(mig[0]!)).toEqual([
      SPAN.virDomainMigrateVersion3,
      SPAN.perform3,
      SPAN.qemuMigrationSrcPerform,
      SPAN.qemuMigrationSrcRun,
      SPAN.migration,
    ]);
    // Linked to the QMP `migrate` that libvirt sent, which sits beside it under qemuMigrationSrcRun.
    const migrate = byId.get(mig[0]!.links[0]!)!;
    expect(migrate.attributes[ATTR.monitorCommand]).toBe('migrate');
    expect(parent(migrate)).toBe(parent(mig[0]!));
    const passes = m.spans.filter((s) => s.parent === mig[0]!.id && s.name === SPAN.pass);
    expect(passes.map((p) => p.attributes[ATTR.pass])).toEqual([1, 2, 3, 4, 5]);
    expect(m.notes).toEqual([]);
    expect(m.readable).toHaveLength(m.spans.length);
  });

  it('aligns on the wall clock: QEMU acts between the libvirt lines around it', () => {
    const mig = m.spans.find((s) => s.name === SPAN.migration)!;
    const migrate = m.spans.find((s) => s.attributes[ATTR.monitorCommand] === 'migrate')!;
    const cont = m.spans.find((s) => s.attributes[ATTR.monitorCommand] === 'migrate-continue')!;
    // migrate sent at .188, QEMU's setup state at .189840, the reply at .190.
    expect(mig.startUs).toBeGreaterThan(migrate.startUs);
    expect(mig.startUs).toBeLessThan(migrate.endUs);
    // QEMU completes after libvirt's migrate-continue, inside qemuMigrationSrcRun.
    expect(mig.endUs).toBeGreaterThan(cont.endUs);
    expect(mig.endUs).toBeLessThanOrEqual(parent(mig)!.endUs);
    const complete = m.spans.find((s) => s.name === SPAN.complete)!;
    expect(complete.startUs).toBe(Date.parse('2026-11-27T15:20:42Z') * 1000 + 68090);
  });

  it('is deterministic', () => {
    const again = mergeTrace({ libvirt: managed(), qemu: [{ role: 'source', log: qemuSrc() }] }, 5);
    expect(again.readable.map((s) => [s.name, s.spanContext().spanId, s.parentSpanContext?.spanId])).toEqual(
      m.readable.map((s) => [s.name, s.spanContext().spanId, s.parentSpanContext?.spanId]),
    );
  });
});

describe('mergeSources: clock alignment of an undated libvirt log', () => {
  it('moves a time-of-day log to the other sources day and says so', () => {
    const undated = libvirtSpans([parseLibvirtLog(read(LV, 'condensed-sample.log'))]);
    expect(undated.dated).toBe(false);
    const m = mergeSources({ libvirt: undated, qemu: [{ role: 'source', log: qemuSrc() }] });
    expect(m.notes).toEqual([expect.stringMatching(/no dates: moved 20784 days/)]);
    const begin = m.spans.find((s) => s.name === SPAN.begin3)!;
    expect(begin.startUs).toBe(Date.parse('2026-11-27T15:20:32.975Z') * 1000);
    const mig = m.spans.find((s) => s.name === SPAN.migration)!;
    expect(helpers(m.spans).parent(mig)!.name).toBe(SPAN.qemuMigrationSrcRun);
  });

  it('warns when sources are far apart in time', () => {
    const m = mergeSources({
      libvirt: managed(),
      lab: JSON.parse(read(LAB, 'lab-record.json')) as LabRecord,
    });
    expect(m.notes.some((n) => /more than 60 s apart/.test(n))).toBe(true);
  });
});

describe('mergeSources: lab record + QMP proxy record of the same monitor', () => {
  const rec = JSON.parse(read(LAB, 'lab-record.json')) as LabRecord;
  const traces = [
    { role: 'source' as const, log: parseTraceLog(read(LAB, 'source-trace.log')) },
    { role: 'destination' as const, log: parseTraceLog(read(LAB, 'destination-trace.log')) },
  ];
  const labOnly = mergeSources({ lab: rec, qemu: traces });
  const both = mergeSources({ lab: rec, qemu: traces, proxies: [proxyOfLab(rec)] });

  it('keeps each command once, with the proxy clock, and one qemu.migration', () => {
    expect(both.deduplicated).toBe(rec.source.exchanges.length);
    const cmds = (spans: PlainSpan[]) =>
      spans.filter((s) => s.name === SPAN.monitorCommand && s.attributes[ATTR.monitorCommand] !== 'session');
    expect(cmds(both.spans)).toHaveLength(cmds(labOnly.spans).length);
    expect(both.spans).toHaveLength(labOnly.spans.length);
    const migrate = cmds(both.spans).find((s) => s.attributes[ATTR.monitorCommand] === 'migrate')!;
    const x = rec.source.exchanges.find((e) => e.command === 'migrate')!;
    expect([migrate.startUs, migrate.endUs]).toEqual([x.sentUs + 30, x.receivedUs! - 30]);
    expect(migrate.attributes[ATTR.monitorId]).toBe(`m${rec.source.exchanges.indexOf(x) + 1}`);
    const mig = both.spans.filter((s) => s.name === SPAN.migration);
    expect(mig).toHaveLength(1);
    expect(mig[0]!.attributes[ATTR.traceSource]).toBe('lab');
    expect(both.spans.filter((s) => s.parent === null)).toHaveLength(1);
    // The proxy session's events moved to the lab's session root.
    const root = both.spans.find((s) => s.parent === null)!;
    expect(root.events.length).toBe(rec.source.events.length);
  });
});

describe('mergeSources: libvirt log + QMP proxy between libvirtd and the source QEMU', () => {
  it('matches commands by QMP id, keeps libvirt parents and takes the proxy µs times', () => {
    const lv = managed();
    const src = lv.spans.filter(
      (s) => s.name === SPAN.monitorCommand && s.attributes[ATTR.monitorSide] === 'source',
    );
    const lines: ProxyLine[] = [];
    for (const c of src) {
      const id = c.attributes[ATTR.monitorId];
      lines.push({
        conn: 1,
        dir: 'send',
        tUs: c.startUs + 421,
        line: JSON.stringify({ execute: c.attributes[ATTR.monitorCommand], id }),
      });
      lines.push({ conn: 1, dir: 'recv', tUs: c.endUs - 17, line: JSON.stringify({ return: {}, id }) });
    }
    // One command libvirt's log does not have (a tool on the same monitor): it stays, under Perform3.
    lines.push({
      conn: 1,
      dir: 'send',
      tUs: Date.parse('2026-11-27T15:20:36.000Z') * 1000,
      line: '{"execute":"query-status","id":"x"}',
    });
    lines.push({
      conn: 1,
      dir: 'recv',
      tUs: Date.parse('2026-11-27T15:20:36.001Z') * 1000,
      line: '{"return":{"status":"running"},"id":"x"}',
    });
    lines.sort((a, b) => a.tUs - b.tUs);
    const startUs = lines[0]!.tUs - 1000;
    const endUs = lines[lines.length - 1]!.tUs + 1000;
    const rec: ProxyRecord = {
      kind: 'migscope-qmp-record',
      version: 1,
      side: 'source',
      listen: '/p',
      qemu: '/q',
      startUs,
      endUs,
      connections: [
        { conn: 1, openUs: startUs, closeUs: endUs, sentBytes: 0, receivedBytes: 0, error: null },
      ],
      lines,
    };
    const m = mergeSources({ libvirt: lv, proxies: [rec] });
    expect(m.deduplicated).toBe(src.length);
    const { parent } = helpers(m.spans);
    const cmds = m.spans.filter((s) => s.name === SPAN.monitorCommand);
    expect(cmds).toHaveLength(lv.counts.commands + 1);
    const migrate = cmds.find((s) => s.attributes[ATTR.monitorCommand] === 'migrate')!;
    expect([migrate.startUs, migrate.endUs]).toEqual([
      Date.parse('2026-11-27T15:20:34.188Z') * 1000 + 421,
      Date.parse('2026-11-27T15:20:34.190Z') * 1000 - 17,
    ]);
    expect(parent(migrate)!.name).toBe(SPAN.qemuMigrationSrcRun);
    expect(migrate.attributes[ATTR.traceSource]).toBe('libvirt-log');
    const extra = cmds.find((s) => s.attributes[ATTR.monitorCommand] === 'query-status')!;
    expect(parent(extra)!.name).toBe(SPAN.qemuMigrationSrcWaitForCompletion);
    expect(m.spans.filter((s) => s.parent === null)).toHaveLength(1);
  });
});
