/** The span tree of a simulated 0.12.3 + libvirt 0.7.7 migration. */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { toOtlpJsonl } from '../../../trace/export/otlp-jsonl.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';
import { run, scenario } from './helpers.ts';

const parentOf = (spans: ReadableSpan[], s: ReadableSpan) =>
  spans.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId);

describe('span tree', () => {
  const s = scenario({ vm: { memoryMiB: 512 }, workload: { kind: 'uniform', wssMiB: 8, dirtyRateMiBps: 4 } });
  const { result, spans } = run(s, 'tick');
  const byName = (n: string) => spans.filter((x) => x.name === n);

  it('reads virsh -> libvirt API -> qemu driver -> monitor -> QEMU migration -> iterations', () => {
    const chain = [
      SPAN.virshMigrate,
      SPAN.virDomainMigrate,
      SPAN.virDomainMigrateVersion2,
      SPAN.perform,
      SPAN.qemudDomainMigratePerform,
      SPAN.doNativeMigrate,
      SPAN.migration,
    ];
    const mig = byName(SPAN.migration)[0]!;
    let cur: ReadableSpan | undefined = mig;
    const seen: string[] = [];
    while (cur) {
      seen.unshift(cur.name);
      cur = parentOf(spans, cur);
    }
    expect(seen).toEqual(chain);
    expect(byName(SPAN.iteration).every((it) => parentOf(spans, it)?.name === SPAN.migration)).toBe(true);
    expect(byName(SPAN.iteration).length).toBeGreaterThan(2);
    for (const n of [
      SPAN.prepare2,
      SPAN.finish2,
      SPAN.qemuDomainWaitForMigrationComplete,
      SPAN.downtime,
      SPAN.window,
      SPAN.dirtySync,
      SPAN.ramSave,
    ])
      expect(byName(n).length, n).toBeGreaterThan(0);
    const cmds = spans
      .filter((x) => x.name === SPAN.monitorCommand)
      .map((x) => x.attributes[ATTR.monitorCommand]);
    expect(cmds).toContain('migrate -d "tcp:dst:49152"');
    expect(cmds).toContain('cont');
  });

  it('stamps spans with simulated times: the downtime span lasts downtimeMs', () => {
    const dt = byName(SPAN.downtime)[0]!;
    const ms = (dt.endTime[0] - dt.startTime[0]) * 1e3 + (dt.endTime[1] - dt.startTime[1]) / 1e6;
    expect(ms).toBeCloseTo(result.downtimeMs!, 6);
  });

  it('the bytes on iteration spans add up to the RAM and block bytes they iterated', () => {
    const ram = byName(SPAN.ramSave).reduce((a, x) => a + (x.attributes[ATTR.bytes] as number), 0);
    expect(ram).toBeLessThanOrEqual(result.bytes.ram);
    expect(ram).toBeGreaterThan(result.bytes.ram * 0.99);
  });

  it('serialises as OTLP JSON Lines: one TracesData per line', () => {
    const text = toOtlpJsonl([spans]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const data = JSON.parse(lines[0]!);
    const otlpSpans = data.resourceSpans[0].scopeSpans[0].spans;
    expect(otlpSpans).toHaveLength(spans.length);
    const service = data.resourceSpans[0].resource.attributes.find(
      (a: { key: string }) => a.key === 'service.name',
    );
    expect(service.value.stringValue).toBe('migscope-sim');
    expect(new Set(otlpSpans.map((x: { traceId: string }) => x.traceId)).size).toBe(1);
  });
});
