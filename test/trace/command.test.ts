/** trace/command.ts: `migscope trace import | proxy | export`. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli.ts';
import { UsageError } from '../../sim/errors.ts';
import { importTrace, run, runProxySession } from '../../trace/command.ts';
import { REPO_ROOT } from '../../trace/lab/guest.ts';
import { QmpClient } from '../../trace/lab/qmp.ts';
import { SPAN } from '../../trace/names.ts';
import { captureOutput } from '../helpers/cli.ts';

const LV = join(REPO_ROOT, 'test/fixtures/libvirt');
const LAB = join(REPO_ROOT, 'test/fixtures/lab/recorded-dirty');

let dir: string;
let out: string[];
let err: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'migscope-trace-cmd-'));
  ({ out, err } = captureOutput());
  vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', '');
  vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

interface OtlpLine {
  resourceSpans: {
    scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[];
  }[];
}
const otlpSpans = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .flatMap((l) =>
      (JSON.parse(l) as OtlpLine).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
    );

/** A local OTLP/HTTP receiver: the bodies it got. */
async function receiver(status = 200): Promise<{ server: HttpServer; url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createHttpServer((req, res) => {
    let b = '';
    req.on('data', (d) => {
      b += d;
    });
    req.on('end', () => {
      bodies.push(b);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, bodies };
}
const closeHttp = (s: HttpServer) => new Promise((r) => s.close(() => r(null)));

describe('trace import', () => {
  it('merges libvirt logs and a QEMU trace log into trace.otlp.jsonl and trace.perfetto.json', async () => {
    const o = join(dir, 'run');
    const code = await run([
      'import',
      '--libvirt-log',
      join(LV, 'managed-src.log'),
      '--libvirt-log',
      join(LV, 'managed-dst.log'),
      '--qemu-log',
      join(LV, 'managed-qemu-src-trace.log'),
      '--out',
      o,
    ]);
    expect(code).toBe(0);
    const text = out.join('');
    expect(text).toMatch(
      /managed-src\.log: 82 libvirt entries \(source\), 33 continuation lines, 0 garbled lines skipped/,
    );
    expect(text).toMatch(/managed-dst\.log: 53 libvirt entries \(destination\)/);
    expect(text).toMatch(
      /libvirt: 23 monitor commands \(0 without reply\), 15 events, 0 truncated QMP messages/,
    );
    expect(text).toMatch(/managed-qemu-src-trace\.log: 219 QEMU trace events \(source\)/);
    expect(text).toMatch(
      /^129 spans in one trace \(0 monitor commands seen twice kept once\), 0 lines skipped$/m,
    );
    const spans = otlpSpans(join(o, 'trace.otlp.jsonl'));
    expect(spans).toHaveLength(129);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(spans.filter((s) => !s.parentSpanId).map((s) => s.name)).toEqual([SPAN.virDomainMigrateVersion3]);
    const perfetto = JSON.parse(readFileSync(join(o, 'trace.perfetto.json'), 'utf8'));
    expect(perfetto.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(129);
  });

  it('reports garbled and truncated lines of a damaged log and still writes the trace', async () => {
    const code = await run(['import', '--libvirt-log', join(LV, 'garbled-src.log'), '--out', dir]);
    expect(code).toBe(0);
    const text = out.join('');
    expect(text).toMatch(
      /garbled-src\.log: 81 libvirt entries \(source\), 33 continuation lines, 3 garbled lines skipped/,
    );
    expect(text).toMatch(/13 monitor commands \(1 without reply\), 11 events, 1 truncated QMP messages/);
    expect(text).toMatch(/, 3 lines skipped$/m);
    expect(existsSync(join(dir, 'trace.otlp.jsonl'))).toBe(true);
  });

  it('says when libvirt lines have no date', async () => {
    await run(['import', '--libvirt-log', join(LV, 'condensed-sample.log'), '--out', dir]);
    expect(out.join('')).toMatch(/condensed-sample\.log: 42 libvirt entries \(source \+ destination\)/);
    expect(out.join('')).toMatch(/lines carry no date \(pass --date YYYY-MM-DD/);
  });

  it('imports a lab record with its trace logs', async () => {
    const code = await run([
      'import',
      '--lab-record',
      join(LAB, 'lab-record.json'),
      '--qemu-log',
      join(LAB, 'source-trace.log'),
      '--qemu-log',
      join(LAB, 'destination-trace.log'),
      '--out',
      dir,
    ]);
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/destination-trace\.log: 41 QEMU trace events \(destination\)/);
    const spans = otlpSpans(join(dir, 'trace.otlp.jsonl'));
    expect(spans.filter((s) => s.name === SPAN.migration)).toHaveLength(1);
    expect(spans.filter((s) => s.name === SPAN.incoming)).toHaveLength(1);
  });

  it('sends the trace over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const r = await receiver();
    try {
      vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', r.url);
      const code = await run(['import', '--libvirt-log', join(LV, 'managed-src.log'), '--out', dir]);
      expect(code).toBe(0);
      expect(out.join('')).toContain(`sent 23 spans to ${r.url}/v1/traces`);
      expect(r.bodies).toHaveLength(1);
      expect(otlpSpans(join(dir, 'trace.otlp.jsonl'))).toEqual(
        (JSON.parse(r.bodies[0]!) as OtlpLine).resourceSpans.flatMap((x) =>
          x.scopeSpans.flatMap((s) => s.spans),
        ),
      );
    } finally {
      await closeHttp(r.server);
    }
  });

  it('rejects bad input with one line naming the file', async () => {
    const junk = join(dir, 'junk.log');
    writeFileSync(junk, 'hello\nworld\n');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"source":');
    const cases: [string[], RegExp][] = [
      [
        ['import', '--libvirt-log', join(dir, 'nope.log'), '--out', dir],
        /--libvirt-log .*nope\.log: no such file/,
      ],
      [
        ['import', '--libvirt-log', junk, '--out', dir],
        /--libvirt-log .*junk\.log: no libvirt log lines \(2 lines, 2 unreadable\)/,
      ],
      [
        ['import', '--qemu-log', join(LV, 'managed-src.log'), '--out', dir],
        /--qemu-log .*managed-src\.log: no trace-event lines/,
      ],
      [['import', '--lab-record', bad, '--out', dir], /--lab-record .*bad\.json: not JSON/],
      [
        ['import', '--qmp-record', join(LAB, 'lab-record.json'), '--out', dir],
        /--qmp-record .*lab-record\.json: not a qmp-record\.json/,
      ],
      [['import', '--out', dir], /nothing to import/],
      [['import', '--libvirt-log', junk], /--out DIR is required/],
      [['import', '--date', '27.11.2026', '--out', dir], /--date: expected YYYY-MM-DD/],
      [['import', '--bogus'], /trace import: Unknown option '--bogus'/],
      [['frobnicate'], /expected a subcommand import, proxy or export, got "frobnicate"/],
    ];
    for (const [argv, msg] of cases) {
      const e = await run(argv).catch((x: unknown) => x);
      expect(e, argv.join(' ')).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(msg);
      expect((e as Error).message).not.toContain('\n');
    }
    // Through the CLI entry: exit 2, one line on stderr.
    err.length = 0;
    expect(await main(['trace', 'import', '--libvirt-log', join(dir, 'nope.log'), '--out', dir])).toBe(2);
    expect(err.join('')).toMatch(/^migscope: trace import: --libvirt-log .*nope\.log: no such file\n$/);
  });
});

describe('trace export', () => {
  beforeEach(async () => {
    await run(['import', '--libvirt-log', join(LV, 'managed-src.log'), '--out', dir]);
    rmSync(join(dir, 'trace.perfetto.json'));
    out.length = 0;
  });

  it('writes trace.perfetto.json from a run directory', async () => {
    expect(await run(['export', dir, '--format', 'perfetto'])).toBe(0);
    expect(out.join('')).toMatch(/^23 spans\nwrote .*trace\.perfetto\.json\n$/);
    const t = JSON.parse(readFileSync(join(dir, 'trace.perfetto.json'), 'utf8'));
    expect(t.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(23);
  });

  it('re-exports a run over OTLP/HTTP with the same span ids', async () => {
    const r = await receiver();
    try {
      expect(await run(['export', dir, '--format', 'otlp-http', '--endpoint', `${r.url}/v1/traces`])).toBe(0);
      const sent = (JSON.parse(r.bodies[0]!) as OtlpLine).resourceSpans.flatMap((x) =>
        x.scopeSpans.flatMap((s) => s.spans),
      );
      const file = otlpSpans(join(dir, 'trace.otlp.jsonl'));
      expect(sent.map((s) => [s.name, s.spanId, s.parentSpanId ?? ''])).toEqual(
        file.map((s) => [s.name, s.spanId, s.parentSpanId ?? '']),
      );
    } finally {
      await closeHttp(r.server);
    }
  });

  it('exits 3 when the collector refuses, and asks for an endpoint when none is set', async () => {
    const r = await receiver(400);
    try {
      vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', r.url);
      expect(await run(['export', dir, '--format', 'otlp-http'])).toBe(3);
      expect(err.join('')).toMatch(/OTLP\/HTTP export of .* failed/);
    } finally {
      await closeHttp(r.server);
    }
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', '');
    await expect(run(['export', dir, '--format', 'otlp-http'])).rejects.toThrow(
      /needs --endpoint URL or OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    await expect(run(['export', dir, '--format', 'svg'])).rejects.toThrow(
      /--format: expected perfetto or otlp-http, got "svg"/,
    );
    await expect(run(['export', join(dir, 'nothing-here'), '--format', 'perfetto'])).rejects.toThrow(
      /nothing-here\/trace\.otlp\.jsonl: no such file/,
    );
    writeFileSync(join(dir, 'trace.otlp.jsonl'), '{"resourceSpans": 5}\n');
    await expect(run(['export', dir, '--format', 'perfetto'])).rejects.toThrow(
      /trace\.otlp\.jsonl:1: no resourceSpans/,
    );
  });
});

describe('trace proxy', () => {
  let qemu: Server;
  let qemuPath: string;
  beforeEach(async () => {
    qemuPath = join(dir, 'qemu.sock');
    qemu = createServer((sock) => {
      sock.write(
        '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": []}}\r\n',
      );
      sock.on('data', (d) => {
        for (const line of String(d).split('\n').filter(Boolean)) {
          const m = JSON.parse(line);
          sock.write(`${JSON.stringify({ return: {}, id: m.id })}\r\n`);
        }
      });
    });
    await new Promise<void>((r) => qemu.listen(qemuPath, () => r()));
  });
  afterEach(async () => {
    await new Promise((r) => qemu.close(() => r(null)));
  });

  it('records a session until aborted, then writes the record and the trace', async () => {
    const abort = new AbortController();
    const o = join(dir, 'out');
    const listen = join(dir, 'proxy.sock');
    let ready = false;
    const session = runProxySession({
      listen,
      qemu: qemuPath,
      out: o,
      signal: abort.signal,
      onReady: () => {
        ready = true;
      },
    });
    while (!ready) await sleep(5);
    const q = await QmpClient.connect(listen, { timeoutMs: 2000 });
    await q.execute('migrate-set-parameters', { 'max-bandwidth': 1 });
    q.close();
    await sleep(20);
    abort.abort();
    const r = await session;
    expect(r.record.connections).toHaveLength(1);
    expect(existsSync(r.paths.record) && existsSync(r.paths.otlp) && existsSync(r.paths.perfetto)).toBe(true);
    const names = otlpSpans(r.paths.otlp).map((s) => s.name);
    expect(names).toEqual([SPAN.monitorCommand, SPAN.monitorCommand, SPAN.monitorCommand]);
    // The written record imports again to the same spans.
    const again = importTrace({
      libvirtLogs: [],
      qemuLogs: [],
      labRecord: null,
      qmpRecords: [{ file: r.paths.record, text: readFileSync(r.paths.record, 'utf8') }],
      seed: 1,
    });
    expect(again.readable.map((s) => s.spanContext().spanId)).toEqual(
      r.spans.map((s) => s.spanContext().spanId),
    );
    expect(again.report[0]).toMatch(/2 QMP commands, 0 events, 0 non-JSON lines skipped/);
  });

  it('runs from the command line until SIGINT (exit 0, files written)', async () => {
    const o = join(dir, 'cli');
    const listen = join(dir, 'cli.sock');
    const child = spawn(
      process.execPath,
      ['migscope.js', 'trace', 'proxy', '--listen', listen, '--qemu', qemuPath, '--out', o],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const end = Date.now() + 30_000;
    while (!stderr.includes('Ctrl-C') && Date.now() < end) await sleep(20);
    const q = await QmpClient.connect(listen, { timeoutMs: 5000 });
    await q.execute('query-status');
    q.close();
    await sleep(50);
    child.kill('SIGINT');
    expect(await exited, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/^1 connections, 2 commands \(0 without reply\), 0 events, 0 non-JSON lines$/m);
    expect(JSON.parse(readFileSync(join(o, 'qmp-record.json'), 'utf8')).lines).toHaveLength(5);
    expect(existsSync(listen)).toBe(false);
  }, 60_000);
});
