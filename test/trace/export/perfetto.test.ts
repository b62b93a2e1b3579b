/** trace/export/perfetto.ts: spans → Chrome trace-event JSON for Perfetto UI. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ChromeEvent, toChromeTrace, writeChromeTrace } from '../../../trace/export/perfetto.ts';
import { libvirtSpans, parseLibvirtLog } from '../../../trace/import/libvirt-log.ts';
import { type PlainSpan, toReadableSpans } from '../../../trace/import/plain-spans.ts';
import { parseTraceLog } from '../../../trace/import/qemu-trace-events.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import { mergeTrace } from '../../../trace/merge.ts';
import { ATTR } from '../../../trace/names.ts';

const LV = join(REPO_ROOT, 'test/fixtures/libvirt');
const read = (name: string) => readFileSync(join(LV, name), 'utf8');

const merged = () =>
  mergeTrace({
    libvirt: libvirtSpans([
      parseLibvirtLog(read('managed-src.log')),
      parseLibvirtLog(read('managed-dst.log')),
    ]),
    qemu: [{ role: 'source', log: parseTraceLog(read('managed-qemu-src-trace.log')) }],
  });

/** Complete events on one (pid, tid) must nest: any two either are disjoint or one contains the other. */
function checkNesting(events: ChromeEvent[]): void {
  const tracks = new Map<string, ChromeEvent[]>();
  for (const e of events.filter((x) => x.ph === 'X')) {
    const k = `${e.pid}/${e.tid}`;
    tracks.set(k, [...(tracks.get(k) ?? []), e]);
  }
  for (const [k, list] of tracks) {
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        const [as, ae, bs, be] = [a.ts!, a.ts! + a.dur!, b.ts!, b.ts! + b.dur!];
        const ok = ae <= bs || be <= as || (as <= bs && be <= ae) || (bs <= as && ae <= be);
        expect(ok, `${k}: ${a.name} [${as}, ${ae}] vs ${b.name} [${bs}, ${be}]`).toBe(true);
      }
  }
}

describe('toChromeTrace', () => {
  const { readable } = merged();
  const trace = toChromeTrace(readable);
  const ev = trace.traceEvents;
  const meta = (name: string) => ev.filter((e) => e.ph === 'M' && e.name === name);

  it('writes one complete event per span, timed in µs from the first span', () => {
    const xs = ev.filter((e) => e.ph === 'X');
    expect(xs).toHaveLength(readable.length);
    expect(Math.min(...xs.map((e) => e.ts!))).toBe(0);
    expect(trace.otherData.startUnixUs).toBe(Date.parse('2026-11-27T15:20:32.975Z') * 1000);
    const migrate = xs.find((e) => e.name === 'monitor.command migrate')!;
    // 15:20:34.188 → .190, relative to 15:20:32.975.
    expect([migrate.ts, migrate.dur]).toEqual([1_213_000, 2000]);
    expect(migrate.args).toMatchObject({ [ATTR.monitorId]: 'libvirt-417', [ATTR.uri]: 'fd:migrate' });
    expect(migrate.args!.parentSpanId).toBe(
      readable.find((s) => s.spanContext().spanId === migrate.args!.spanId)!.parentSpanContext!.spanId,
    );
  });

  it('has one process per traced process and one track per thread', () => {
    const procs = meta('process_name').map((e) => e.args!.name);
    expect(procs).toEqual(['libvirt client', 'libvirtd (destination)', 'libvirtd (source)', 'qemu (source)']);
    const pid = (name: string) => meta('process_name').find((e) => e.args!.name === name)!.pid;
    const threads = (p: string) =>
      meta('thread_name')
        .filter((e) => e.pid === pid(p))
        .map((e) => e.args!.name);
    expect(threads('libvirtd (source)')).toEqual(['thread 30137', 'thread 30135', 'thread 30136']);
    expect(threads('libvirtd (destination)')).toEqual(['thread 30439', 'thread 30438']);
    // The migration thread's windows overlap its passes without nesting: a sibling track takes them.
    expect(threads('qemu (source)')).toEqual(['thread 29396', 'thread 29396 (2)']);
    for (const e of ev.filter((x) => x.ph === 'X'))
      expect(meta('thread_name').some((m) => m.pid === e.pid && m.tid === e.tid)).toBe(true);
    checkNesting(ev);
  });

  it('draws counter tracks for remaining bytes and throughput', () => {
    const counters = ev.filter((e) => e.ph === 'C');
    const remaining = counters.filter((e) => e.name === 'remaining bytes');
    // Seven query-migrate replies in the source libvirt log carry ram.remaining.
    expect(remaining.map((e) => e.args!.bytes)).toEqual([
      527835136, 477503488, 427171840, 112721920, 62390272, 28835840, 0,
    ]);
    for (let i = 1; i < remaining.length; i++)
      expect(remaining[i]!.ts!).toBeGreaterThan(remaining[i - 1]!.ts!);
    const tput = counters.filter((e) => e.name === 'throughput (bytes/s)');
    // 7 polls from libvirt + one per logged rate window in the QEMU trace log.
    const windows = readable.filter((s) => s.name === 'qemu.migration.window').length;
    expect(windows).toBeGreaterThan(10);
    expect(tput).toHaveLength(7 + windows);
    expect(new Set(tput.filter((e) => e.pid === remaining[0]!.pid).map((e) => e.args!['bytes/s']))).toEqual(
      new Set([33550000, 33262500]),
    );
  });

  it('keeps span events as instant events on the span track', () => {
    const inst = ev.filter((e) => e.ph === 'i');
    expect(inst.length).toBe(readable.reduce((a, s) => a + s.events.length, 0));
    expect(inst.every((e) => e.s === 't')).toBe(true);
  });

  it('is pure and deterministic, and writes valid JSON', () => {
    expect(toChromeTrace(merged().readable)).toEqual(trace);
    const dir = mkdtempSync(join(tmpdir(), 'migscope-perfetto-'));
    try {
      const file = join(dir, 't.json');
      writeChromeTrace(file, readable);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(trace)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(toChromeTrace([]).traceEvents).toEqual([]);
  });

  it('splits partly overlapping spans of one thread into nested lanes', () => {
    const s = (id: string, startUs: number, endUs: number, parent: string | null = null): PlainSpan => ({
      id,
      parent,
      name: `s${id}`,
      startUs,
      endUs,
      attributes: { [ATTR.process]: 'p', [ATTR.threadId]: 1 },
      events: [],
      links: [],
    });
    const spans = toReadableSpans([
      s('a', 0, 100),
      s('b', 50, 150),
      s('c', 60, 70),
      s('d', 150, 200),
      s('e', 100, 100),
    ]);
    const t = toChromeTrace(spans);
    checkNesting(t.traceEvents);
    const tid = (name: string) => t.traceEvents.find((e) => e.name === name && e.ph === 'X')!.tid;
    expect(tid('sa')).toBe(1);
    expect(tid('sb')).toBe(2);
    expect(tid('sc')).toBe(1);
    expect(tid('sd')).toBe(1);
    expect(tid('se')).toBe(1);
  });
});
