/**
 * Reading a run: trace.otlp.jsonl (OTLP JSON Lines, one `TracesData` per line) into plain span records,
 * and result.json into a `MigrationResult`. The parsers are pure (text in, records out); `readRun` and
 * friends are the thin file-reading layer. Bad input throws a one-line `UsageError` naming the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { MigrationResult } from '../models/result.ts';
import { UsageError } from '../sim/errors.ts';

/** An attribute value as plain data (OTLP AnyValue decoded). */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

/** A point in time inside a span. */
export interface SpanEventRecord {
  name: string;
  /** Nanoseconds since the trace start. */
  timeNs: number;
  attributes: Record<string, AttrValue>;
}

/** One span as plain data; times are nanoseconds since the trace start (the earliest span start). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** Empty string for a root span. */
  parentSpanId: string;
  name: string;
  startNs: number;
  endNs: number;
  attributes: Record<string, AttrValue>;
  events: SpanEventRecord[];
  /** The resource's `service.name` (e.g. migscope-sim, migscope-real), or null. */
  service: string | null;
}

/** A whole trace file: its spans and the absolute time they are relative to. */
export interface TraceData {
  /** Unix nanoseconds of the earliest span start; every `*Ns` field counts from here. */
  epochNs: bigint;
  spans: SpanRecord[];
}

/** A run as the reports see it: a result, a trace, or both. */
export interface RunData {
  /** A short name for headings and legends (scenario name, or the directory name). */
  label: string;
  result: MigrationResult | null;
  trace: TraceData | null;
  /** Where it was read from, for messages; null when built in memory. */
  dir: string | null;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decode an OTLP JSON AnyValue. */
export function decodeAnyValue(v: unknown): AttrValue {
  if (!isObj(v)) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) {
    const values = isObj(v.arrayValue) && Array.isArray(v.arrayValue.values) ? v.arrayValue.values : [];
    return values.map(decodeAnyValue);
  }
  if ('kvlistValue' in v) return decodeAttributes(isObj(v.kvlistValue) ? v.kvlistValue.values : []);
  if ('bytesValue' in v) return String(v.bytesValue);
  return null;
}

/** Decode an OTLP KeyValue list into a plain object (the last value of a repeated key wins). */
export function decodeAttributes(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (isObj(kv) && typeof kv.key === 'string') out[kv.key] = decodeAnyValue(kv.value);
  return out;
}

const HEX_ID = /^[0-9a-f]*$/i;

/** Trace and span ids as lowercase hex: OTLP JSON uses hex, protobuf-JSON mappings use base64. */
function decodeId(v: unknown): string {
  if (typeof v !== 'string' || v === '') return '';
  if (HEX_ID.test(v) && (v.length === 16 || v.length === 32)) return v.toLowerCase();
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length === 8 || bytes.length === 16) return bytes.toString('hex');
  return v;
}

function toBigNs(v: unknown): bigint | null {
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.round(v));
  return null;
}

interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  start: bigint;
  end: bigint;
  attributes: Record<string, AttrValue>;
  events: { name: string; time: bigint; attributes: Record<string, AttrValue> }[];
  service: string | null;
}

/**
 * Parse the text of a trace.otlp.jsonl file (every line) into span records. `file` names the source in
 * error messages. Accepts `resourceSpans` (OTLP) and `batches` (Tempo export) and legacy
 * `instrumentationLibrarySpans`; a span without an end time ends at its start.
 */
export function parseOtlpJsonl(text: string, file = 'trace'): TraceData {
  const raw: RawSpan[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (!isObj(doc)) throw new UsageError(`${file}:${i + 1}: expected an OTLP TracesData object`);
    const resourceSpans = doc.resourceSpans ?? doc.batches;
    if (!Array.isArray(resourceSpans))
      throw new UsageError(`${file}:${i + 1}: expected an OTLP TracesData object with "resourceSpans"`);
    for (const rs of resourceSpans) {
      if (!isObj(rs)) continue;
      const resource = decodeAttributes(isObj(rs.resource) ? rs.resource.attributes : []);
      const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : null;
      const scopes = rs.scopeSpans ?? rs.instrumentationLibrarySpans;
      if (!Array.isArray(scopes)) continue;
      for (const ss of scopes) {
        if (!isObj(ss) || !Array.isArray(ss.spans)) continue;
        for (const s of ss.spans) {
          if (!isObj(s)) continue;
          const start = toBigNs(s.startTimeUnixNano);
          if (start === null)
            throw new UsageError(`${file}:${i + 1}: span "${String(s.name)}" has no startTimeUnixNano`);
          let end = toBigNs(s.endTimeUnixNano) ?? start;
          if (end < start) end = start;
          const events = Array.isArray(s.events)
            ? s.events.filter(isObj).map((e) => ({
                name: String(e.name ?? ''),
                time: toBigNs(e.timeUnixNano) ?? start,
                attributes: decodeAttributes(e.attributes),
              }))
            : [];
          raw.push({
            traceId: decodeId(s.traceId),
            spanId: decodeId(s.spanId),
            parentSpanId: decodeId(s.parentSpanId),
            name: typeof s.name === 'string' ? s.name : String(s.name ?? ''),
            start,
            end,
            attributes: decodeAttributes(s.attributes),
            events,
            service,
          });
        }
      }
    }
  }
  let epochNs = 0n;
  if (raw.length > 0) {
    epochNs = raw[0]!.start;
    for (const r of raw) if (r.start < epochNs) epochNs = r.start;
  }
  const rel = (t: bigint) => Number(t - epochNs);
  const spans = raw.map<SpanRecord>((r) => ({
    traceId: r.traceId,
    spanId: r.spanId,
    parentSpanId: r.parentSpanId,
    name: r.name,
    startNs: rel(r.start),
    endNs: rel(r.end),
    attributes: r.attributes,
    events: r.events.map((e) => ({ name: e.name, timeNs: rel(e.time), attributes: e.attributes })),
    service: r.service,
  }));
  return { epochNs, spans };
}

const RESULT_NUMBERS = ['totalTimeMs'] as const;

/** Parse result.json text into a `MigrationResult`, checking the fields the reports rely on. */
export function parseResult(text: string, file = 'result.json'): MigrationResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
  if (!isObj(doc)) throw new UsageError(`${file}: expected a result.json object`);
  for (const k of RESULT_NUMBERS)
    if (typeof doc[k] !== 'number')
      throw new UsageError(`${file}: ${k}: expected a number, got ${show(doc[k])}`);
  if (doc.source !== 'sim' && doc.source !== 'real')
    throw new UsageError(`${file}: source: expected "sim" or "real", got ${show(doc.source)}`);
  if (!isObj(doc.bytes)) throw new UsageError(`${file}: bytes: expected an object`);
  if (!Array.isArray(doc.iterations)) throw new UsageError(`${file}: iterations: expected a list`);
  doc.iterations.forEach((it, i) => {
    if (!isObj(it) || typeof it.startMs !== 'number' || typeof it.endMs !== 'number')
      throw new UsageError(`${file}: iterations[${i}]: expected startMs and endMs numbers`);
  });
  const r = doc as unknown as MigrationResult;
  return {
    ...r,
    downtimeMs: r.downtimeMs ?? null,
    setupTimeMs: r.setupTimeMs ?? null,
    pages: r.pages ?? { normal: 0, uniform: 0 },
    downtimeBreakdown: r.downtimeBreakdown ?? {
      finalPassMs: null,
      drainMs: null,
      loadMs: null,
      managementMs: null,
    },
    extra: r.extra ?? {},
    delivery: r.delivery ?? null,
    message: r.message ?? null,
  };
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** The file names a run directory holds (models/output.ts RUN_FILES). */
export const RUN_FILE_NAMES = { result: 'result.json', trace: 'trace.otlp.jsonl' } as const;

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Read and parse a trace.otlp.jsonl file. */
export function readTrace(file: string): TraceData {
  return parseOtlpJsonl(readText(file), file);
}

/** Read and parse a result.json file. */
export function readResult(file: string): MigrationResult {
  return parseResult(readText(file), file);
}

/**
 * Read a run from a directory (result.json and/or trace.otlp.jsonl) or from one of those files (its
 * sibling is read too when present).
 */
export function readRun(path: string): RunData {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file or directory`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  let resultFile = join(dir, RUN_FILE_NAMES.result);
  let traceFile = join(dir, RUN_FILE_NAMES.trace);
  if (!isDir) {
    if (path.endsWith('.jsonl')) traceFile = path;
    else if (path.endsWith('.json')) resultFile = path;
    else throw new UsageError(`${path}: expected a run directory, a result.json or a trace.otlp.jsonl`);
  }
  const hasResult = existsSync(resultFile);
  const hasTrace = existsSync(traceFile);
  if (!hasResult && !hasTrace)
    throw new UsageError(`${path}: no ${RUN_FILE_NAMES.result} or ${RUN_FILE_NAMES.trace} found`);
  const result = hasResult ? readResult(resultFile) : null;
  const trace = hasTrace ? readTrace(traceFile) : null;
  const label = result?.scenario?.name ?? basename(isDir ? path : dir);
  return { label, result, trace, dir };
}
