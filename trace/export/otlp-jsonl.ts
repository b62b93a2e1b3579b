/**
 * OTLP JSON Lines (the OpenTelemetry file-exporter format): one `TracesData` object per line, loadable by
 * Jaeger 1.55+ and Grafana Tempo.
 */
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

const decoder = new TextDecoder();

/** One OTLP JSON line (no trailing newline) holding all `spans`. */
export function toOtlpJsonLine(spans: readonly ReadableSpan[]): string {
  const bytes = JsonTraceSerializer.serializeRequest(spans as ReadableSpan[]);
  if (!bytes) throw new Error('OTLP serialisation produced nothing');
  return decoder.decode(bytes);
}

/** A whole `.jsonl` file: one line per batch of spans, each line ending in a newline. */
export function toOtlpJsonl(batches: readonly (readonly ReadableSpan[])[]): string {
  return batches.map((b) => `${toOtlpJsonLine(b)}\n`).join('');
}
