/**
 * OTLP/HTTP export of finished spans to a collector (Jaeger, Tempo, an OpenTelemetry Collector) through
 * @opentelemetry/exporter-trace-otlp-http (installed with @opentelemetry/sdk-node), JSON encoding. The
 * library takes an explicit URL; only the command reads the standard environment variables
 * (`otlpTracesUrl`), as the OpenTelemetry SDK's successor does.
 */
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * The traces URL the OpenTelemetry environment variables name: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is,
 * else OTEL_EXPORTER_OTLP_ENDPOINT plus `/v1/traces` (the spec's rule for the signal-less variable);
 * null when neither is set.
 */
export function otlpTracesUrl(env: Record<string, string | undefined>): string | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return null;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values URL-encoded) as a header map. */
export function otlpHeaders(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? '').split(
    ',',
  )) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** Options of `exportOtlpHttp`. */
export interface OtlpHttpOptions {
  /** The full traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  url: string;
  headers?: Record<string, string>;
  timeoutMillis?: number;
}

/** The outcome of an export: never thrown, always returned. */
export interface OtlpHttpResult {
  ok: boolean;
  spans: number;
  error: string | null;
}

/** Send `spans` in one OTLP/HTTP JSON request; resolves with the outcome (failures are values). */
export async function exportOtlpHttp(
  spans: readonly ReadableSpan[],
  opts: OtlpHttpOptions,
): Promise<OtlpHttpResult> {
  const exporter = new OTLPTraceExporter({
    url: opts.url,
    headers: opts.headers ?? {},
    timeoutMillis: opts.timeoutMillis ?? 10_000,
  });
  try {
    const result = await new Promise<{ code: ExportResultCode; error?: Error }>((resolve) => {
      exporter.export(spans as ReadableSpan[], resolve);
    });
    return {
      ok: result.code === ExportResultCode.SUCCESS,
      spans: spans.length,
      error: result.code === ExportResultCode.SUCCESS ? null : (result.error?.message ?? 'export failed'),
    };
  } catch (err) {
    return { ok: false, spans: spans.length, error: (err as Error).message ?? String(err) };
  } finally {
    await exporter.shutdown().catch(() => {});
  }
}
