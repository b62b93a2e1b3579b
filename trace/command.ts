/**
 * `migscope trace import | proxy | export`: the real-stack tracer. Import turns a migration's libvirt
 * debug logs, QEMU trace-event logs and a lab or QMP-proxy record into one trace; proxy records the QMP
 * traffic between a client (libvirtd) and QEMU; export re-exports a run's trace to Perfetto or a collector.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { UsageError } from '../sim/errors.ts';
import { exportOtlpHttp, otlpHeaders, otlpTracesUrl } from './export/otlp-http.ts';
import { toOtlpJsonl } from './export/otlp-jsonl.ts';
import { writeChromeTrace } from './export/perfetto.ts';
import { type ClientView, clientWindow, readClientLog, withClientLog } from './import/libvirt-client-log.ts';
import {
  type LibvirtTrace,
  libvirtSpans,
  migrationWindow,
  parseLibvirtLog,
  type TimeWindow,
} from './import/libvirt-log.ts';
import { readOtlpJsonl } from './import/otlp-jsonl.ts';
import { parseTraceLog, type TraceLog } from './import/qemu-trace-events.ts';
import type { LabRecord } from './lab/run.ts';
import { type MergedTrace, mergeTrace } from './merge.ts';
import { type ProxyRecord, QmpProxy } from './proxy/qmp-proxy.ts';
import { proxySpans } from './proxy/spans.ts';

/** `migscope trace --help`. */
export const HELP = `migscope trace import [inputs] --out DIR
migscope trace proxy --listen SOCK --qemu SOCK --out DIR [--side source|destination]
migscope trace export RUN_DIR --format perfetto|otlp-http [--endpoint URL]

import: merge what one migration left behind into one trace (one traceId: libvirt API -> qemu driver ->
monitor commands -> QEMU migration -> passes), aligned by wall-clock time, and write DIR/trace.otlp.jsonl
(Jaeger, Tempo) and DIR/trace.perfetto.json (ui.perfetto.dev). Prints span counts and skipped lines.
  --libvirt-log F    a libvirtd debug log (log_filters 1:qemu 1:libvirt, and 2:rpc for exact phase
                     bounds); repeatable (source and destination daemons), side inferred from the
                     functions logged
  --virsh-log F      virsh's client debug log (LIBVIRT_LOG_FILTERS="1:libvirt 1:remote 2:rpc",
                     LIBVIRT_LOG_OUTPUTS="1:file:F"): the client's spans virsh.migrate ->
                     virDomainMigrate3 -> Version3Full -> phases as the client's RPC round trips
  --window auto      keep only the migration's time window of the libvirt and QEMU logs: from the
                     first migration API call to the last Finish3/Confirm3 reply, +-100 ms
  --from T, --to T   keep only this window instead (T: 2026-11-27T17:47:55.700Z, libvirt's
                     '2026-11-27 17:47:55.700+0000', or HH:MM:SS.mmm UTC with --date)
  --qemu-log F       a QEMU trace-event log (-trace ... -msg timestamp=on); repeatable, side inferred
  --lab-record F     lab-record.json of a 'migscope lab run'
  --qmp-record F     qmp-record.json of a 'migscope trace proxy' session; repeatable
  --date YYYY-MM-DD  the date of libvirt lines that carry only a time of day
  --seed N           seed of the trace and span ids (default 1)

proxy: listen on SOCK, forward every byte to QEMU's monitor socket and back unchanged, and record each
command, reply and event. Runs until Ctrl-C, then writes DIR/qmp-record.json, DIR/trace.otlp.jsonl and
DIR/trace.perfetto.json. Start QEMU with -qmp unix:QEMU_SOCK,server=on,wait=off and point the client
(libvirtd's monitor path, or any QMP client) at SOCK.

export: read RUN_DIR/trace.otlp.jsonl (any migscope run) and write RUN_DIR/trace.perfetto.json, or send
it over OTLP/HTTP to --endpoint, else to $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces (headers from $OTEL_EXPORTER_OTLP_HEADERS).

import and proxy also send the trace over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
exit codes: 0 ok, 2 bad input, 3 the OTLP/HTTP export failed.
`;

const IMPORT_OPTIONS = {
  'libvirt-log': { type: 'string', multiple: true },
  'qemu-log': { type: 'string', multiple: true },
  'virsh-log': { type: 'string' },
  window: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'lab-record': { type: 'string' },
  'qmp-record': { type: 'string', multiple: true },
  date: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
} as const;

const PROXY_OPTIONS = {
  listen: { type: 'string' },
  qemu: { type: 'string' },
  out: { type: 'string' },
  side: { type: 'string' },
  seed: { type: 'string' },
} as const;

const EXPORT_OPTIONS = {
  format: { type: 'string' },
  endpoint: { type: 'string' },
} as const;

/** File names a trace command writes. */
export const TRACE_FILES = {
  otlp: 'trace.otlp.jsonl',
  perfetto: 'trace.perfetto.json',
  qmpRecord: 'qmp-record.json',
} as const;

function parse<O extends NonNullable<ParseArgsConfig['options']>>(sub: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`trace ${sub}: ${(err as Error).message}`);
  }
}

function readInput(flag: string, file: string): string {
  if (!existsSync(file)) throw new UsageError(`trace import: ${flag} ${file}: no such file`);
  if (statSync(file).isDirectory()) throw new UsageError(`trace import: ${flag} ${file}: is a directory`);
  return readFileSync(file, 'utf8');
}

function seedOf(sub: string, v: string | undefined): number {
  if (v === undefined) return 1;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`trace ${sub}: --seed: expected an integer, got "${v}"`);
  return n;
}

/** Which QEMU wrote a trace log: the source's migration thread, or the destination's loader. */
export function traceRole(log: TraceLog): 'source' | 'destination' {
  let src = 0;
  let dst = 0;
  for (const r of log.records) {
    if (
      /^(savevm_|migrate_pending|migrate_transferred|migration_thread_|migration_rate_limit|migration_bitmap_sync)/.test(
        r.event,
      )
    )
      src++;
    else if (/^(loadvm_|qemu_loadvm_|ram_load_|migration_socket_incoming|process_incoming)/.test(r.event))
      dst++;
  }
  return dst > src ? 'destination' : 'source';
}

/** Parsed `trace import` inputs. */
export interface ImportInputs {
  libvirtLogs: { file: string; text: string }[];
  qemuLogs: { file: string; text: string }[];
  labRecord: { file: string; text: string } | null;
  qmpRecords: { file: string; text: string }[];
  /** virsh's client debug log. */
  virshLog?: { file: string; text: string } | null;
  /** Keep only this window of the libvirt and QEMU logs; `auto`: the migration's (see `--window`). */
  window?: TimeWindow | 'auto' | null;
  date?: string;
  seed: number;
}

/** What an import made. */
export interface ImportResult extends MergedTrace {
  readable: ReadableSpan[];
  /** One line per input: what it gave and what was skipped. */
  report: string[];
  skipped: number;
}

/** Merge the inputs of one migration (library form of `trace import`); bad input throws UsageError. */
export function importTrace(inp: ImportInputs): ImportResult {
  const report: string[] = [];
  let skipped = 0;
  let libvirt: LibvirtTrace | null = null;
  let client: ClientView | null = null;
  if (inp.virshLog) {
    const { file, text } = inp.virshLog;
    client = readClientLog(text);
    if (client.entries.length === 0)
      throw new UsageError(
        `trace import: --virsh-log ${file}: no libvirt log lines (${client.lines} lines, ${client.garbled} unreadable)`,
      );
    const phases = client.rpcs.filter((r) => r.proc >= 302 && r.proc <= 307).length;
    report.push(
      `${file}: virsh client log, ${client.entries.length} entries, ${client.rpcs.length} RPCs (${phases} migration phases), ${client.garbled} garbled lines skipped`,
    );
    skipped += client.garbled;
  }
  const logs = inp.libvirtLogs.map(({ file, text }) => {
    const log = parseLibvirtLog(text, { date: inp.date });
    if (log.entries.length === 0)
      throw new UsageError(
        `trace import: --libvirt-log ${file}: no libvirt log lines (${log.lines} lines, ${log.garbled} unreadable)`,
      );
    const sides = [...new Set(log.entries.map((e) => e.side))].join(' + ');
    report.push(
      `${file}: ${log.entries.length} libvirt entries (${sides}), ${log.continuation} continuation lines, ${log.garbled} garbled lines skipped`,
    );
    if (!log.dated) report.push(`${file}: lines carry no date (pass --date YYYY-MM-DD to place them)`);
    skipped += log.garbled;
    return log;
  });
  let window: { fromUs: number; toUs: number } | null = null;
  if (inp.window === 'auto') {
    const found = [migrationWindow(logs), client ? clientWindow(client) : null].filter((w) => w !== null);
    if (found.length > 0)
      window = {
        fromUs: Math.min(...found.map((w) => w.fromUs)),
        toUs: Math.max(...found.map((w) => w.toUs)),
      };
    else report.push('--window auto: the logs show no migration phase; everything kept');
  } else if (inp.window)
    window = {
      fromUs: inp.window.fromUs ?? Number.NEGATIVE_INFINITY,
      toUs: inp.window.toUs ?? Number.POSITIVE_INFINITY,
    };
  if (logs.length > 0) {
    libvirt = libvirtSpans(logs, window ? { window } : {});
    const c = libvirt.counts;
    report.push(
      `libvirt: ${c.commands} monitor commands (${c.unanswered} without reply), ${c.events} events, ${c.truncated} truncated QMP messages, ${libvirt.rpcBounded} phases bounded by the daemons' RPC lines`,
    );
  }
  if (window)
    report.push(
      `window ${isoUs(window.fromUs)} .. ${isoUs(window.toUs)}: ${libvirt?.outside ?? 0} libvirt entries outside it left out`,
    );
  if (client) {
    const ct = withClientLog(client, libvirt);
    libvirt = ct.trace;
    for (const n of ct.notes) report.push(`${inp.virshLog!.file}: ${n}`);
  }
  const qemu = inp.qemuLogs.flatMap(({ file, text }) => {
    const log = parseTraceLog(text);
    if (log.records.length === 0)
      throw new UsageError(
        `trace import: --qemu-log ${file}: no trace-event lines (expected TID@SEC.USEC:event, QEMU's -msg timestamp=on)`,
      );
    const role = traceRole(log);
    let outside = '';
    if (window) {
      const all = log.records.length;
      log.records = log.records.filter((r) => r.tUs >= window.fromUs && r.tUs <= window.toUs);
      outside = ` (${all - log.records.length} outside the window left out)`;
    }
    report.push(
      `${file}: ${log.records.length} QEMU trace events (${role})${outside}, ${log.garbled} garbled lines skipped`,
    );
    skipped += log.garbled;
    return log.records.length > 0 ? [{ role, log }] : [];
  });
  let lab: LabRecord | null = null;
  if (inp.labRecord) {
    const { file, text } = inp.labRecord;
    lab = parseJson(file, '--lab-record', text) as LabRecord;
    if (!lab.source || !lab.destination || typeof lab.sessionStartUs !== 'number' || !lab.scenario)
      throw new UsageError(
        `trace import: --lab-record ${file}: not a lab-record.json (no source/destination/scenario)`,
      );
    report.push(`${file}: lab record of ${lab.scenario.name} (${lab.outcome})`);
  }
  const proxies = inp.qmpRecords.map(({ file, text }) => {
    const rec = parseJson(file, '--qmp-record', text) as ProxyRecord;
    if (rec.kind !== 'migscope-qmp-record' || !Array.isArray(rec.lines) || !Array.isArray(rec.connections))
      throw new UsageError(
        `trace import: --qmp-record ${file}: not a qmp-record.json of 'migscope trace proxy'`,
      );
    const c = proxySpans(rec).counts;
    report.push(
      `${file}: ${c.commands} QMP commands, ${c.events} events, ${c.garbled} non-JSON lines skipped`,
    );
    skipped += c.garbled;
    return rec;
  });
  if (!libvirt && inp.qemuLogs.length === 0 && !lab && proxies.length === 0)
    throw new UsageError(
      'trace import: nothing to import (give --libvirt-log, --virsh-log, --qemu-log, --lab-record or --qmp-record)',
    );
  const merged = mergeTrace({ libvirt, qemu, lab, proxies }, inp.seed);
  return { ...merged, report, skipped };
}

function parseJson(file: string, flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`trace import: ${flag} ${file}: not JSON (${(err as Error).message})`);
  }
}

/** µs since the epoch as an ISO time (µs kept), or -inf / +inf for an open end. */
function isoUs(us: number): string {
  if (!Number.isFinite(us)) return us < 0 ? '-inf' : '+inf';
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString();
  const frac = Math.round(us - ms * 1000);
  return frac === 0 ? iso : `${iso.slice(0, -1)}${String(frac).padStart(3, '0')}Z`;
}

/**
 * A `--from` / `--to` time as µs since the epoch: ISO 8601 (`2026-11-27T17:47:55.700Z`, zone optional =
 * UTC), libvirt's `2026-11-27 17:47:55.700+0000`, or a time of day (UTC) on `date`. Null when unreadable.
 */
export function parseTimeUs(text: string, date?: string): number | null {
  const m =
    /^(?:(\d{4}-\d{2}-\d{2})[T ])?(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(
      text.trim(),
    );
  if (!m) return null;
  const day = m[1] ?? date;
  if (!day) return null;
  const base = Date.parse(`${day}T${m[2]}:${m[3]}:${m[4]}Z`);
  if (!Number.isFinite(base) || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4]) > 59) return null;
  let offMin = 0;
  if (m[6] && m[6] !== 'Z') {
    const z = m[6].replace(':', '');
    offMin = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  return (base - offMin * 60_000) * 1000 + Number((m[5] ?? '').padEnd(6, '0'));
}

/** Write trace.otlp.jsonl and trace.perfetto.json into `dir`; returns their paths. */
export function writeTrace(dir: string, spans: readonly ReadableSpan[]): { otlp: string; perfetto: string } {
  mkdirSync(dir, { recursive: true });
  const otlp = join(dir, TRACE_FILES.otlp);
  const perfetto = join(dir, TRACE_FILES.perfetto);
  writeFileSync(otlp, spans.length > 0 ? toOtlpJsonl([spans]) : '');
  writeChromeTrace(perfetto, spans);
  return { otlp, perfetto };
}

/** Send to the environment's OTLP endpoint if one is set; returns a status line, or null. */
async function maybeSend(
  spans: readonly ReadableSpan[],
  env: NodeJS.ProcessEnv,
): Promise<{ line: string; ok: boolean } | null> {
  const url = otlpTracesUrl(env);
  if (!url || spans.length === 0) return null;
  const r = await exportOtlpHttp(spans, { url, headers: otlpHeaders(env) });
  return {
    ok: r.ok,
    line: r.ok ? `sent ${r.spans} spans to ${url}` : `OTLP/HTTP export to ${url} failed: ${r.error}`,
  };
}

async function runImport(args: string[]): Promise<number> {
  const { values, positionals } = parse('import', args, IMPORT_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`trace import: unexpected argument "${positionals[0]}"`);
  if (!values.out) throw new UsageError('trace import: --out DIR is required');
  if (values.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(values.date))
    throw new UsageError(`trace import: --date: expected YYYY-MM-DD, got "${values.date}"`);
  const read = (flag: string) => (file: string) => ({ file, text: readInput(flag, file) });
  let window: ImportInputs['window'] = null;
  if (values.window !== undefined) {
    if (values.window !== 'auto')
      throw new UsageError(`trace import: --window: expected auto, got "${values.window}"`);
    if (values.from !== undefined || values.to !== undefined)
      throw new UsageError('trace import: --window auto and --from/--to exclude each other');
    window = 'auto';
  } else if (values.from !== undefined || values.to !== undefined) {
    const time = (flag: 'from' | 'to') => {
      const v = values[flag];
      if (v === undefined) return undefined;
      const us = parseTimeUs(v, values.date);
      if (us === null)
        throw new UsageError(
          `trace import: --${flag}: expected a time like 2026-11-27T17:47:55.700Z (or HH:MM:SS.mmm with --date), got "${v}"`,
        );
      return us;
    };
    window = { fromUs: time('from'), toUs: time('to') };
    if (window.fromUs !== undefined && window.toUs !== undefined && window.toUs < window.fromUs)
      throw new UsageError('trace import: --to is before --from');
  }
  const r = importTrace({
    virshLog: values['virsh-log'] ? read('--virsh-log')(values['virsh-log']) : null,
    window,
    libvirtLogs: (values['libvirt-log'] ?? []).map(read('--libvirt-log')),
    qemuLogs: (values['qemu-log'] ?? []).map(read('--qemu-log')),
    labRecord: values['lab-record'] ? read('--lab-record')(values['lab-record']) : null,
    qmpRecords: (values['qmp-record'] ?? []).map(read('--qmp-record')),
    date: values.date,
    seed: seedOf('import', values.seed),
  });
  const paths = writeTrace(values.out, r.readable);
  const lines = [
    ...r.report,
    ...r.notes.map((n) => `note: ${n}`),
    `${r.readable.length} spans in one trace (${r.deduplicated} monitor commands seen twice kept once), ${r.skipped} lines skipped`,
    `wrote ${paths.otlp}`,
    `wrote ${paths.perfetto}`,
  ];
  const sent = await maybeSend(r.readable, process.env);
  if (sent) lines.push(sent.line);
  process.stdout.write(`${lines.join('\n')}\n`);
  return sent && !sent.ok ? 3 : 0;
}

/** Options of `runProxySession`. */
export interface ProxySessionOptions {
  listen: string;
  qemu: string;
  out: string;
  side?: 'source' | 'destination';
  seed?: number;
  /** Ends the session (the command wires SIGINT/SIGTERM to it). */
  signal: AbortSignal;
  onReady?: () => void;
}

/** Run a proxy until `signal` aborts, then write the record and the trace (library form of `trace proxy`). */
export async function runProxySession(o: ProxySessionOptions): Promise<{
  record: ProxyRecord;
  spans: ReadableSpan[];
  paths: { record: string; otlp: string; perfetto: string };
}> {
  let proxy: QmpProxy;
  try {
    proxy = await QmpProxy.start({ listen: o.listen, qemu: o.qemu, side: o.side });
  } catch (err) {
    throw new UsageError(`trace proxy: --listen ${o.listen}: ${(err as Error).message}`);
  }
  o.onReady?.();
  if (!o.signal.aborted)
    await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
  const record = await proxy.close();
  mkdirSync(o.out, { recursive: true });
  const recordPath = join(o.out, TRACE_FILES.qmpRecord);
  writeFileSync(recordPath, `${JSON.stringify(record)}\n`);
  const spans = mergeTrace({ proxies: [record] }, o.seed ?? 1).readable;
  const paths = writeTrace(o.out, spans);
  return { record, spans, paths: { record: recordPath, ...paths } };
}

async function runProxy(args: string[]): Promise<number> {
  const { values, positionals } = parse('proxy', args, PROXY_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`trace proxy: unexpected argument "${positionals[0]}"`);
  for (const k of ['listen', 'qemu', 'out'] as const)
    if (!values[k]) throw new UsageError(`trace proxy: --${k} is required`);
  if (values.side !== undefined && values.side !== 'source' && values.side !== 'destination')
    throw new UsageError(`trace proxy: --side: expected source or destination, got "${values.side}"`);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const r = await runProxySession({
      listen: values.listen!,
      qemu: values.qemu!,
      out: values.out!,
      side: values.side as 'source' | 'destination' | undefined,
      seed: seedOf('proxy', values.seed),
      signal: abort.signal,
      onReady: () =>
        process.stderr.write(
          `trace proxy: ${values.listen} -> ${values.qemu}; Ctrl-C to stop and write ${values.out}\n`,
        ),
    });
    const c = proxySpans(r.record).counts;
    const lines = [
      `${r.record.connections.length} connections, ${c.commands} commands (${c.unanswered} without reply), ${c.events} events, ${c.garbled} non-JSON lines`,
      `${r.spans.length} spans`,
      `wrote ${r.paths.record}`,
      `wrote ${r.paths.otlp}`,
      `wrote ${r.paths.perfetto}`,
    ];
    const sent = await maybeSend(r.spans, process.env);
    if (sent) lines.push(sent.line);
    process.stdout.write(`${lines.join('\n')}\n`);
    return sent && !sent.ok ? 3 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function runExport(args: string[]): Promise<number> {
  const { values, positionals } = parse('export', args, EXPORT_OPTIONS);
  if (positionals.length !== 1)
    throw new UsageError(`trace export: expected one RUN_DIR, got ${positionals.length}`);
  const dir = positionals[0]!;
  const file = join(dir, TRACE_FILES.otlp);
  if (!existsSync(file))
    throw new UsageError(`trace export: ${file}: no such file (is ${dir} a migscope run?)`);
  const spans = readOtlpJsonl(readFileSync(file, 'utf8'), file);
  if (spans.length === 0) throw new UsageError(`trace export: ${file}: no spans`);
  if (values.format === 'perfetto') {
    const out = join(dir, TRACE_FILES.perfetto);
    writeChromeTrace(out, spans);
    process.stdout.write(`${spans.length} spans\nwrote ${out}\n`);
    return 0;
  }
  if (values.format === 'otlp-http') {
    const url = values.endpoint ?? otlpTracesUrl(process.env);
    if (!url)
      throw new UsageError(
        'trace export: --format otlp-http needs --endpoint URL or OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4318)',
      );
    const r = await exportOtlpHttp(spans, { url, headers: otlpHeaders(process.env) });
    if (!r.ok) {
      process.stderr.write(`migscope: OTLP/HTTP export of ${file} to ${url} failed: ${r.error}\n`);
      return 3;
    }
    process.stdout.write(`sent ${r.spans} spans to ${url}\n`);
    return 0;
  }
  throw new UsageError(
    `trace export: --format: expected perfetto or otlp-http, got ${values.format === undefined ? 'nothing' : `"${values.format}"`}`,
  );
}

/** Run `migscope trace ...`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'import') return runImport(rest);
  if (sub === 'proxy') return runProxy(rest);
  if (sub === 'export') return runExport(rest);
  throw new UsageError(
    `trace: expected a subcommand import, proxy or export, got ${sub === undefined ? 'nothing' : `"${sub}"`}`,
  );
}
