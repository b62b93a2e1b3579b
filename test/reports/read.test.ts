import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOtlpJsonl, parseResult, readRun } from '../../reports/read.ts';
import { UsageError } from '../../sim/errors.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { sampleRunDir, tempDir } from './helpers.ts';

const line = (spans: object[], service = 'migscope-real') =>
  JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 't' }, spans }],
      },
    ],
  });

const T0 = 1767225600000000000n;

describe('parseOtlpJsonl', () => {
  it('reads every line, decodes attributes and makes times relative to the earliest start', () => {
    const text = [
      line([
        {
          traceId: '0123456789abcdef0123456789abcdef',
          spanId: '00000000000000a1',
          parentSpanId: '',
          name: SPAN.migration,
          startTimeUnixNano: String(T0 + 1000n),
          endTimeUnixNano: String(T0 + 5000n),
          attributes: [
            { key: ATTR.bytes, value: { intValue: '523357317' } },
            { key: 'd', value: { doubleValue: 1.5 } },
            { key: 'b', value: { boolValue: true } },
            { key: 'l', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: 2 }] } } },
          ],
          events: [{ name: 'qemu.vm.stop', timeUnixNano: String(T0 + 3000n), attributes: [] }],
        },
      ]),
      '',
      line([
        {
          // base64 ids, as protobuf-JSON mappings write them
          traceId: Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64'),
          spanId: Buffer.from('00000000000000b2', 'hex').toString('base64'),
          parentSpanId: Buffer.from('00000000000000a1', 'hex').toString('base64'),
          name: SPAN.setup,
          startTimeUnixNano: String(T0),
          endTimeUnixNano: String(T0 + 2000n),
        },
      ]),
    ].join('\n');
    const t = parseOtlpJsonl(text, 'x.jsonl');
    expect(t.epochNs).toBe(T0);
    expect(t.spans).toHaveLength(2);
    const [m, s] = t.spans as [(typeof t.spans)[0], (typeof t.spans)[0]];
    expect(m).toMatchObject({ name: SPAN.migration, startNs: 1000, endNs: 5000, service: 'migscope-real' });
    expect(m.attributes).toEqual({ [ATTR.bytes]: 523357317, d: 1.5, b: true, l: ['x', 2] });
    expect(m.events).toEqual([{ name: 'qemu.vm.stop', timeNs: 3000, attributes: {} }]);
    expect(s).toMatchObject({ spanId: '00000000000000b2', parentSpanId: '00000000000000a1', startNs: 0 });
  });

  it('ends a span with no or an early end time at its start', () => {
    const t = parseOtlpJsonl(
      line([
        { spanId: '1', name: 'a', startTimeUnixNano: '100' },
        { spanId: '2', name: 'b', startTimeUnixNano: '100', endTimeUnixNano: '50' },
      ]),
    );
    expect(t.spans.map((s) => s.endNs - s.startNs)).toEqual([0, 0]);
  });

  it('names the file and line of bad input', () => {
    expect(() => parseOtlpJsonl(`${line([])}\n{oops`, 'run/trace.otlp.jsonl')).toThrow(
      /^run\/trace\.otlp\.jsonl:2: not JSON/,
    );
    expect(() => parseOtlpJsonl('{"foo":1}', 't.jsonl')).toThrow(UsageError);
    expect(() => parseOtlpJsonl(line([{ name: 'x' }]), 't.jsonl')).toThrow(
      /t\.jsonl:1: span "x" has no start/,
    );
  });
});

describe('parseResult', () => {
  it('rejects what is not a result.json, naming the file and the field', () => {
    expect(() => parseResult('[]', 'r.json')).toThrow(/^r\.json: expected a result\.json object/);
    expect(() => parseResult('{"source":"sim"}', 'r.json')).toThrow(
      /^r\.json: totalTimeMs: expected a number/,
    );
    expect(() => parseResult('{"source":"x","totalTimeMs":1}', 'r.json')).toThrow(/source/);
    expect(() =>
      parseResult('{"source":"real","totalTimeMs":1,"bytes":{},"iterations":[{"startMs":"a"}]}', 'r.json'),
    ).toThrow(/iterations\[0\]/);
  });

  it('fills what a real run may leave out with null', () => {
    const r = parseResult('{"source":"real","totalTimeMs":1,"bytes":{"total":1},"iterations":[]}');
    expect(r.downtimeMs).toBeNull();
    expect(r.delivery).toBeNull();
  });
});

describe('readRun', () => {
  it('reads a simulated run directory, or either of its files', () => {
    const dir = sampleRunDir('iteration');
    const run = readRun(dir);
    expect(run.label).toBe('default-1gib-zipf');
    expect(run.result?.source).toBe('sim');
    expect(run.trace?.spans.length).toBeGreaterThan(100);
    expect(readRun(join(dir, 'result.json')).trace?.spans.length).toBe(run.trace?.spans.length);
    expect(readRun(join(dir, 'trace.otlp.jsonl')).result?.totalTimeMs).toBe(run.result?.totalTimeMs);
  });

  it('explains a missing or empty run', () => {
    const d = tempDir();
    expect(() => readRun(join(d, 'nope'))).toThrow(/nope: no such file or directory/);
    expect(() => readRun(d)).toThrow(/no result\.json or trace\.otlp\.jsonl found/);
    writeFileSync(join(d, 'notes.txt'), 'x');
    expect(() => readRun(join(d, 'notes.txt'))).toThrow(UsageError);
  });
});
