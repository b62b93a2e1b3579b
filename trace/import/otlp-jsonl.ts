/**
 * Reading trace.otlp.jsonl (OTLP JSON Lines, as trace/export/otlp-jsonl.ts writes it) back into
 * ReadableSpan objects, so a run directory can be exported again (Perfetto, OTLP/HTTP). Bad input throws
 * a one-line UsageError naming the file and line.
 */
import { type Attributes, type HrTime, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { UsageError } from '../../sim/errors.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An OTLP JSON AnyValue as an attribute value (maps become JSON text). */
function anyValue(v: unknown): Attributes[string] {
  if (!isObj(v)) return undefined;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) {
    const vals = ((v.arrayValue as Json)?.values as unknown[] | undefined) ?? [];
    return vals.map((x) => anyValue(x)).filter((x) => typeof x === 'string') as string[];
  }
  if ('kvlistValue' in v) return JSON.stringify(v.kvlistValue);
  return undefined;
}

function attributes(list: unknown): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (!isObj(kv) || typeof kv.key !== 'string') continue;
    const v = anyValue(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

function hr(nanos: unknown): HrTime {
  const n = BigInt(String(nanos ?? '0'));
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

function diff(a: HrTime, b: HrTime): HrTime {
  let s = b[0] - a[0];
  let ns = b[1] - a[1];
  if (ns < 0) {
    s--;
    ns += 1e9;
  }
  return [s, ns];
}

/** Every span of an OTLP JSONL text, with its resource and scope. `file` names the input in errors. */
export function readOtlpJsonl(text: string, file: string): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1}: not JSON (expected one OTLP TracesData object per line)`);
    }
    if (!isObj(doc) || !Array.isArray(doc.resourceSpans))
      throw new UsageError(`${file}:${i + 1}: no resourceSpans (not an OTLP JSON trace line)`);
    for (const rs of doc.resourceSpans as Json[]) {
      const resource = resourceFromAttributes(attributes((rs.resource as Json | undefined)?.attributes));
      for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
        const scope = (ss.scope as Json | undefined) ?? {};
        const instrumentationScope = {
          name: String(scope.name ?? 'migscope'),
          version: scope.version as string | undefined,
        };
        for (const s of (ss.spans as Json[] | undefined) ?? []) {
          if (typeof s.spanId !== 'string' || typeof s.traceId !== 'string')
            throw new UsageError(`${file}:${i + 1}: a span without traceId/spanId`);
          const traceId = s.traceId;
          const spanId = s.spanId;
          const startTime = hr(s.startTimeUnixNano);
          const endTime = hr(s.endTimeUnixNano);
          const parent = typeof s.parentSpanId === 'string' && s.parentSpanId ? s.parentSpanId : undefined;
          const status = (s.status as Json | undefined) ?? {};
          out.push({
            name: String(s.name ?? ''),
            kind: typeof s.kind === 'number' ? Math.max(0, s.kind - 1) : SpanKind.INTERNAL,
            spanContext: () => ({ traceId, spanId, traceFlags: TraceFlags.SAMPLED }),
            parentSpanContext: parent
              ? { traceId, spanId: parent, traceFlags: TraceFlags.SAMPLED }
              : undefined,
            startTime,
            endTime,
            status: { code: typeof status.code === 'number' ? status.code : SpanStatusCode.UNSET },
            attributes: attributes(s.attributes),
            links: ((s.links as Json[] | undefined) ?? []).map((l) => ({
              context: {
                traceId: String(l.traceId),
                spanId: String(l.spanId),
                traceFlags: TraceFlags.SAMPLED,
              },
              attributes: attributes(l.attributes),
            })),
            events: ((s.events as Json[] | undefined) ?? []).map((e) => ({
              name: String(e.name ?? ''),
              time: hr(e.timeUnixNano),
              attributes: attributes(e.attributes),
            })),
            duration: diff(startTime, endTime),
            ended: true,
            resource,
            instrumentationScope,
            droppedAttributesCount: 0,
            droppedEventsCount: 0,
            droppedLinksCount: 0,
          });
        }
      }
    }
  });
  return out;
}
