/**
 * trace/lab/assemble.ts on a recorded real run (test/fixtures/lab/recorded-dirty: a 128 MiB guest with a
 * zipf writer at 8 MiB/s over 32 MiB, migrated at 32 MiB/s): result.json figures come from QMP, the
 * iterations from MIGRATION_PASS events and the trace log, and the spans form one tree with the
 * simulator's names. No QEMU needed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { resultToJson } from '../../../models/result.ts';
import { toOtlpJsonl } from '../../../trace/export/otlp-jsonl.ts';
import { parseTraceLog } from '../../../trace/import/qemu-trace-events.ts';
import { assembleLab, dirtyPagesPerSync, hrFromUs } from '../../../trace/lab/assemble.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import type { LabRecord } from '../../../trace/lab/run.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';

const DIR = join(REPO_ROOT, 'test/fixtures/lab/recorded-dirty');
const load = () => {
  const rec = JSON.parse(readFileSync(join(DIR, 'lab-record.json'), 'utf8')) as LabRecord;
  const traces = {
    source: parseTraceLog(readFileSync(join(DIR, 'source-trace.log'), 'utf8')),
    destination: parseTraceLog(readFileSync(join(DIR, 'destination-trace.log'), 'utf8')),
  };
  return { rec, traces };
};
const t = (s: ReadableSpan) =>
  [s.startTime[0] * 1e9 + s.startTime[1], s.endTime[0] * 1e9 + s.endTime[1]] as const;

describe('assembleLab on a recorded run', () => {
  const { rec, traces } = load();
  const { result: r, spans } = assembleLab(rec, traces);

  it('takes the headline numbers from the final query-migrate reply', () => {
    const final = rec.samples.find((s) => s.info.status === 'completed')!.info;
    expect(r.source).toBe('real');
    expect(r.model).toBe('qemu-7.2');
    expect(r.outcome).toBe('completed');
    expect(r.totalTimeMs).toBe(final['total-time']);
    expect(r.downtimeMs).toBe(final.downtime);
    expect(r.setupTimeMs).toBe(final['setup-time']);
    expect(r.bytes.ram).toBe(final.ram!.transferred);
    expect(r.pages).toEqual({ normal: final.ram!.normal, uniform: final.ram!.duplicate });
    expect(r.extra.dirtySyncCount).toBe(final.ram!['dirty-sync-count']);
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('has one iteration per MIGRATION_PASS whose bytes add up to the RAM counter', () => {
    const passes = rec.source.events.filter((e) => e.event === 'MIGRATION_PASS');
    expect(r.iterations.map((i) => i.index)).toEqual(passes.map((p) => p.data.pass));
    expect(r.iterations.reduce((a, i) => a + i.bytes, 0)).toBeCloseTo(r.bytes.ram, -1);
    for (let i = 1; i < r.iterations.length; i++)
      expect(r.iterations[i]!.startMs).toBe(r.iterations[i - 1]!.endMs);
    expect(r.iterations.at(-1)!.endMs).toBeCloseTo(r.totalTimeMs, -1);
    expect(r.iterations.at(-1)!.remainingPages).toBe(0);
    // The rate limiter's estimate: 32 MiB/s within a few percent (migrate_transferred bandwidth).
    expect(r.iterations[0]!.bandwidthEstimate! / 33554432).toBeCloseTo(1, 1);
    // The first sync (setup) finds nothing new; the second finds what the writer dirtied during pass 1.
    expect(r.iterations[0]!.dirtyPagesAtSync).toBe(0);
    expect(r.iterations[1]!.dirtyPagesAtSync).toBeGreaterThan(500);
  });

  it('differences migration_bitmap_sync_end counts inside one dirty-rate period', () => {
    const log = parseTraceLog(
      [
        '1@100.000000:migration_bitmap_sync_start ',
        '1@100.100000:migration_bitmap_sync_end dirty_pages 0',
        '1@103.000000:migration_bitmap_sync_start ',
        '1@103.010000:migration_bitmap_sync_end dirty_pages 1000', // > 1 s: the period closes here
        '1@103.200000:migration_bitmap_sync_start ',
        '1@103.201000:migration_bitmap_sync_end dirty_pages 80', // same period from here on
        '1@103.300000:migration_bitmap_sync_start ',
        '1@103.301000:migration_bitmap_sync_end dirty_pages 95',
      ].join('\n'),
    );
    expect(dirtyPagesPerSync(log).map((s) => s.dirty)).toEqual([0, 1000, 80, 15]);
  });

  it('builds one span tree with the simulator names, stamped from QEMU timestamps', () => {
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const roots = spans.filter((s) => !s.parentSpanContext);
    expect(roots.map((s) => s.attributes[ATTR.monitorCommand])).toEqual(['session']);
    for (const s of spans) {
      const p = s.parentSpanContext ? byId.get(s.parentSpanContext.spanId) : undefined;
      if (!p) continue;
      expect(t(s)[0]).toBeGreaterThanOrEqual(t(p)[0]);
      expect(t(s)[1]).toBeLessThanOrEqual(t(p)[1] + 1000);
    }
    const names = (n: string) => spans.filter((s) => s.name === n);
    const mig = names(SPAN.migration);
    expect(mig).toHaveLength(1);
    const setupEv = rec.source.events.find((e) => e.event === 'MIGRATION' && e.data.status === 'setup')!;
    expect(mig[0]!.startTime).toEqual(hrFromUs(setupEv.tUs));
    expect(mig[0]!.attributes[ATTR.outcome]).toBe('completed');
    expect(names(SPAN.pass)).toHaveLength(r.iterations.length);
    expect(names(SPAN.dirtySync)).toHaveLength(r.iterations.length);
    expect(names(SPAN.downtime)).toHaveLength(1);
    expect(names(SPAN.incoming)).toHaveLength(1);
    expect(names(SPAN.labRamCompare)).toHaveLength(1);
    expect(names(SPAN.labBoot)).toHaveLength(1);
    const windows = names(SPAN.window);
    expect(windows.length).toBe(
      traces.source.records.filter((x) => x.event === 'migrate_transferred').length,
    );
    const commands = names(SPAN.monitorCommand).map((s) => s.attributes[ATTR.monitorCommand]);
    expect(commands.filter((c) => c === 'query-migrate')).toHaveLength(rec.samples.length);
    expect(commands).toContain('migrate');
    // The downtime span is QMP's downtime long, from the source's STOP event.
    const dt = names(SPAN.downtime)[0]!;
    expect((t(dt)[1] - t(dt)[0]) / 1e6).toBeCloseTo(r.downtimeMs!, 3);
  });

  it('is deterministic: the same record gives the same bytes', () => {
    const again = assembleLab(load().rec, load().traces);
    expect(resultToJson(again.result)).toBe(resultToJson(r));
    expect(toOtlpJsonl([again.spans])).toBe(toOtlpJsonl([spans]));
  });

  it('assembles a run that failed before migrating without inventing a migration', () => {
    const { rec: base } = load();
    const failed: LabRecord = {
      ...base,
      migrateSentUs: null,
      outcome: 'failed',
      message: 'source QEMU exited with code 1 while booting',
      source: { ...base.source, events: [], exchanges: base.source.exchanges.slice(0, 1) },
      destination: { ...base.destination, events: [] },
      samples: [],
      ramCompare: null,
    };
    const { result, spans: s } = assembleLab(failed, { source: null, destination: null });
    expect(result.outcome).toBe('failed');
    expect(result.totalTimeMs).toBe(0);
    expect(result.iterations).toEqual([]);
    expect(result.downtimeMs).toBeNull();
    expect(s.some((x) => x.name === SPAN.migration)).toBe(false);
  });
});
