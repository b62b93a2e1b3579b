/** trace/import/qemu-trace-events.ts: QEMU's log-backend lines with -msg timestamp=on. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importQemuTraceLog,
  parseTraceLog,
  traceNumbers,
  traceSpans,
  traceSyncs,
} from '../../../trace/import/qemu-trace-events.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';

const FIXTURE = join(REPO_ROOT, 'test/fixtures/lab/recorded-dirty');

describe('parseTraceLog', () => {
  it('parses thread id, µs timestamp, event and args', () => {
    const log = parseTraceLog(
      '29396@1795792640.049878:migrate_transferred transferred 3359453 time_spent 212 bandwidth 15846 max_size 4753942\n' +
        '29396@1795792639.838603:savevm_state_setup \n',
    );
    expect(log.garbled).toBe(0);
    expect(log.records).toEqual([
      {
        tid: 29396,
        tUs: 1795792640049878,
        event: 'migrate_transferred',
        args: 'transferred 3359453 time_spent 212 bandwidth 15846 max_size 4753942',
      },
      { tid: 29396, tUs: 1795792639838603, event: 'savevm_state_setup', args: '' },
    ]);
  });

  it('counts garbled lines (torn writes, stderr text) without failing', () => {
    const log = parseTraceLog(
      [
        '29312@1795792639.835639:migrate_set_state new state setup',
        '29396@1795792640.0485', // torn at exit
        '2026-11-27T16:50:00.123456Z qemu-system-x86_64: terminating on signal 15',
        'migrate_set_state new state active', // no timestamp: -msg timestamp=on was missing
        '',
        '29396@1795792648.725440:migration_thread_low_pending 9003008',
      ].join('\n'),
    );
    expect(log.records.map((r) => r.event)).toEqual(['migrate_set_state', 'migration_thread_low_pending']);
    expect(log.garbled).toBe(3);
    expect(log.garbledSamples[0]).toBe('29396@1795792640.0485');
  });

  it('reads a recorded source log of a whole migration', () => {
    const log = parseTraceLog(
      readFileSync(join(REPO_ROOT, 'test/fixtures/lab/recorded-dirty/source-trace.log'), 'utf8'),
    );
    expect(log.garbled).toBe(0);
    const states = log.records.filter((r) => r.event === 'migrate_set_state').map((r) => r.args);
    expect(states).toEqual(['new state setup', 'new state active', 'new state completed']);
    for (let i = 1; i < log.records.length; i++)
      expect(log.records[i]!.tUs).toBeGreaterThanOrEqual(log.records[i - 1]!.tUs - 1000);
  });
});

describe('traceNumbers', () => {
  it('names numbers by the word before them', () => {
    expect(traceNumbers('transferred 3357090 time_spent 100 bandwidth 33570 max_size 10071270')).toEqual({
      transferred: 3357090,
      time_spent: 100,
      bandwidth: 33570,
      max_size: 10071270,
    });
    expect(traceNumbers('pending size 9003008 max 10071270 (pre = 9003008 compat=0 post=0)')).toEqual({
      size: 9003008,
      max: 10071270,
      pre: 9003008,
      compat: 0,
      post: 0,
    });
    expect(traceNumbers('9003008')).toEqual({ value: 9003008 });
    expect(traceNumbers('90 ms')).toEqual({ value: 90 });
  });
});

describe('traceSpans', () => {
  const src = parseTraceLog(readFileSync(join(FIXTURE, 'source-trace.log'), 'utf8'));
  const spans = traceSpans(src, 'source');
  const named = (n: string) => spans.filter((s) => s.name === n);

  it('maps a source log to the simulator span names, nested under one qemu.migration', () => {
    expect(named(SPAN.migration)).toHaveLength(1);
    expect(named(SPAN.migration)[0]!.attributes[ATTR.outcome]).toBe('completed');
    expect(spans.filter((s) => s.parent === null)).toHaveLength(1);
    for (const s of spans) {
      if (s.parent === null) continue;
      const p = spans[s.parent]!;
      expect(s.startUs).toBeGreaterThanOrEqual(p.startUs);
      expect(s.endUs).toBeLessThanOrEqual(p.endUs);
    }
    const syncs = traceSyncs(src);
    expect(syncs.length).toBe(4); // the recorded run's dirty-sync-count
    expect(named(SPAN.dirtySync)).toHaveLength(4);
    expect(named(SPAN.pass).map((s) => s.attributes[ATTR.pass])).toEqual([1, 2, 3, 4]);
    expect(named(SPAN.setup)).toHaveLength(1);
    expect(named(SPAN.complete)).toHaveLength(1);
    expect(named(SPAN.window)).toHaveLength(
      src.records.filter((r) => r.event === 'migrate_transferred').length,
    );
    expect(named(SPAN.rateLimitedSleep).length).toBeGreaterThan(10);
    const mig = named(SPAN.migration)[0]!;
    expect(mig.events.map((e) => e.attributes[ATTR.state]).filter(Boolean)).toEqual([
      'setup',
      'active',
      'completed',
    ]);
    expect(mig.events.some((e) => e.name === 'qemu.migration.switchover_decision')).toBe(true);
  });

  it('maps a destination log to qemu.incoming', () => {
    const dst = parseTraceLog(readFileSync(join(FIXTURE, 'destination-trace.log'), 'utf8'));
    const d = traceSpans(dst, 'destination');
    expect(d.map((s) => [s.name, s.attributes[ATTR.state]])).toEqual([[SPAN.incoming, 'completed']]);
  });

  it('imports a log file as OpenTelemetry spans, counting garbled lines', () => {
    const text = `${readFileSync(join(FIXTURE, 'source-trace.log'), 'utf8')}garbage line\n12@3.4`;
    const r = importQemuTraceLog(text, { seed: 5 });
    expect(r.garbled).toBe(2);
    expect(r.spans.length).toBe(spans.length);
    expect(r.spans.filter((s) => !s.parentSpanContext).map((s) => s.name)).toEqual([SPAN.migration]);
    expect(importQemuTraceLog('', {}).spans).toEqual([]);
  });
});
