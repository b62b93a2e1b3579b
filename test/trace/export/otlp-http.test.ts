/** trace/export/otlp-http.ts against a local OTLP/HTTP receiver on 127.0.0.1. */

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportOtlpHttp, otlpHeaders, otlpTracesUrl } from '../../../trace/export/otlp-http.ts';
import { importLibvirtLogs } from '../../../trace/import/libvirt-log.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
let got: Received[];
let status: number;

beforeEach(async () => {
  got = [];
  status = 200;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      got.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{}' : '{"code":3,"message":"bad request"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterEach(async () => {
  await new Promise((r) => server.close(() => r(null)));
});

const spans = () =>
  importLibvirtLogs([readFileSync(join(REPO_ROOT, 'test/fixtures/libvirt/managed-src.log'), 'utf8')])
    .readable;

describe('otlpTracesUrl', () => {
  it('follows the OpenTelemetry environment rules', () => {
    expect(otlpTracesUrl({})).toBeNull();
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318' })).toBe('http://h:4318/v1/traces');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318/' })).toBe('http://h:4318/v1/traces');
    expect(
      otlpTracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x',
      }),
    ).toBe('http://t/x');
    expect(otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1, x-key=b%20c,bad' })).toEqual({
      a: '1',
      'x-key': 'b c',
    });
  });
});

describe('exportOtlpHttp', () => {
  it('sends one valid OTLP/HTTP JSON request with every span', async () => {
    const s = spans();
    const r = await exportOtlpHttp(s, { url: `${base}/v1/traces`, headers: { 'x-tenant': 'lab' } });
    expect(r).toEqual({ ok: true, spans: s.length, error: null });
    expect(got).toHaveLength(1);
    const req = got[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/traces');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-tenant']).toBe('lab');
    const body = JSON.parse(req.body) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: {
          spans: {
            traceId: string;
            spanId: string;
            parentSpanId?: string;
            name: string;
            startTimeUnixNano: string;
          }[];
        }[];
      }[];
    };
    const sent = body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(sent).toHaveLength(s.length);
    expect(
      body.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name')!.value.stringValue,
    ).toBe('migscope-real');
    expect(new Set(sent.map((x) => x.traceId))).toEqual(new Set([s[0]!.spanContext().traceId]));
    expect(sent.every((x) => /^[0-9a-f]{32}$/.test(x.traceId) && /^[0-9a-f]{16}$/.test(x.spanId))).toBe(true);
    const migrate = sent.find(
      (x) =>
        x.name === 'monitor.command' &&
        x.startTimeUnixNano === String(Date.parse('2026-11-27T15:20:34.188Z') * 1e6),
    )!;
    expect(migrate.parentSpanId).toBe(
      s.find((x) => x.name === 'libvirtd.qemuMigrationSrcRun')!.spanContext().spanId,
    );
  });

  it('returns a failure, never throws, when the collector refuses', async () => {
    status = 400;
    const r = await exportOtlpHttp(spans(), { url: `${base}/v1/traces`, timeoutMillis: 3000 });
    expect(r.ok).toBe(false);
    expect(r.error).toBeTruthy();
    expect(got.length).toBeGreaterThanOrEqual(1);
  });
});
