/**
 * trace/import/libvirt-log.ts and libvirt-client-log.ts on the logs of a real `virsh migrate --live`
 * (test/trace/libvirt-lab/fixtures): one phase per API call although libvirt 9.0 logs its parameters and XML
 * as more lines of the API function, phases bounded by the RPC request/reply lines, the migration's time
 * window, and virsh's client log as the top of the tree. Expected times are read from the log lines here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../sim/errors.ts';
import { importTrace, parseTimeUs, run } from '../../../trace/command.ts';
import { readClientLog, withClientLog } from '../../../trace/import/libvirt-client-log.ts';
import {
  type LibvirtTrace,
  libvirtSpans,
  migrationWindow,
  parseLibvirtLog,
} from '../../../trace/import/libvirt-log.ts';
import type { PlainSpan } from '../../../trace/import/plain-spans.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import { ATTR, SPAN } from '../../../trace/names.ts';

const DIR = join(REPO_ROOT, 'test/trace/libvirt-lab/fixtures');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const SRC = read('libvirtd-source.log');
const DST = read('libvirtd-destination.log');
const VIRSH = read('virsh.log');

const PHASES = [SPAN.begin3, SPAN.prepare3, SPAN.perform3, SPAN.finish3, SPAN.confirm3] as string[];
const PROC_OF: Record<string, number> = { Begin: 302, Prepare: 303, Perform: 305, Finish: 306, Confirm: 307 };
const NAME_OF: Record<number, string> = {
  302: SPAN.begin3,
  303: SPAN.prepare3,
  305: SPAN.perform3,
  306: SPAN.finish3,
  307: SPAN.confirm3,
};

/** A libvirt full-format header's time, µs since the epoch. */
const HEADER = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3})\+0000: (\d+): \w+ : (\w+):\d+ : (.*)$/;
const timeOf = (line: string) => {
  const m = HEADER.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) * 1000 : null;
};
const stamp = (us: number) => `${new Date(us / 1000).toISOString().replace('T', ' ').slice(0, 23)}+0000`;

/** The client's phase RPCs, straight from virsh.log's RPC_CLIENT_MSG lines. */
function clientPhaseRpcs(text: string) {
  const out: { proc: number; serial: number; txUs: number; rxUs: number }[] = [];
  for (const line of text.split('\n')) {
    const m =
      /RPC_CLIENT_MSG_(TX_QUEUE|RX): client=\S+ .* proc=(30[2-7]) type=(\d) status=\d+ serial=(\d+)$/.exec(
        line,
      );
    if (!m) continue;
    const t = timeOf(line)!;
    if (m[1] === 'TX_QUEUE')
      out.push({ proc: Number(m[2]), serial: Number(m[4]), txUs: t, rxUs: Number.NaN });
    else out.find((r) => r.proc === Number(m[2]) && r.serial === Number(m[4]))!.rxUs = t;
  }
  return out;
}

/** Insert `line` before the first header line later than `us` (after every line at or before it). */
function insertAfterTime(lines: string[], us: number, line: string): void {
  const i = lines.findIndex((l) => (timeOf(l) ?? Number.NEGATIVE_INFINITY) > us);
  lines.splice(i < 0 ? lines.length : i, 0, line);
}

/**
 * The daemon log as libvirtd writes it with `2:rpc`: an RPC_SERVER_CLIENT_MSG_RX line (event loop thread)
 * as each phase request arrives, and an RPC_SERVER_CLIENT_MSG_TX_QUEUE line (worker thread) as its reply is
 * queued. The recorded daemons did not log them; their times are the client's (same host, same clock).
 */
function withServerRpcLines(text: string): string {
  const rpcs = clientPhaseRpcs(VIRSH);
  const lines = text.split('\n');
  const helpers = lines
    .map((l) => ({
      l,
      m: /: (\d+): debug : remoteDispatchDomainMigrate(\w+?)3ParamsHelper:\d+ : .*client=(0x[0-9a-f]+)/.exec(
        l,
      ),
    }))
    .filter((x) => x.m);
  for (const { l, m } of helpers) {
    const proc = PROC_OF[m![2]!]!;
    const rpc = rpcs.find((r) => r.proc === proc)!;
    const fields = (type: number) =>
      `client=${m![3]} len=1000 prog=536903814 vers=1 proc=${proc} type=${type} status=0 serial=${rpc.serial}`;
    lines.splice(
      lines.indexOf(l),
      0,
      `${stamp(rpc.txUs)}: 1: info : virNetServerClientDispatchRead:1261 : RPC_SERVER_CLIENT_MSG_RX: ${fields(0)}`,
    );
    insertAfterTime(
      lines,
      rpc.rxUs,
      `${stamp(rpc.rxUs)}: ${m![1]}: info : virNetServerClientSendMessageLocked:1612 : RPC_SERVER_CLIENT_MSG_TX_QUEUE: ${fields(1)}`,
    );
  }
  return lines.join('\n');
}

/** The worker thread of Begin3 serves one of virsh's job polls before Perform3 (libvirtd reuses threads). */
function withReusedBeginThread(text: string, dispatchLine: boolean): string {
  const tid = /: (\d+): debug : virDomainMigrateBegin3Params:/.exec(text)![1]!;
  const lines = text.split('\n');
  const at = Date.parse('2026-11-27T17:47:56.100Z') * 1000;
  const poll = [
    `${stamp(at)}: ${tid}: debug : virDomainGetJobInfo:9327 : dom=0x7f4190006da0, (VM: name=labvm), info=0x7f41af3fe8b0`,
    `${stamp(at)}: ${tid}: debug : qemuMonitorGetMigrationStats:2206 : mon:0x7f41a0013740 vm:0x7f41a0015a10 fd:28`,
  ];
  if (dispatchLine)
    poll.unshift(
      `${stamp(at)}: ${tid}: debug : remoteDispatchDomainGetJobInfoHelper:6500 : server=0x561577289080 client=0x5615772d35a0 msg=0x5615772c4ef0`,
    );
  for (const l of poll) insertAfterTime(lines, at, l);
  return lines.join('\n');
}

const topPhases = (t: { spans: PlainSpan[] }) => {
  const root = t.spans.find((s) => s.parent === null)!;
  const v3 =
    root.name === SPAN.virDomainMigrateVersion3
      ? root
      : t.spans.find((s) => s.name === SPAN.virDomainMigrateVersion3)!;
  return t.spans
    .filter((s) => s.parent === v3.id && PHASES.includes(s.name))
    .sort((a, b) => a.startUs - b.startUs);
};
const ms = (s: PlainSpan) => (s.endUs - s.startUs) / 1000;
const spansOf = (src: string, dst: string, opts = {}): LibvirtTrace =>
  libvirtSpans([parseLibvirtLog(src), parseLibvirtLog(dst)], opts);

describe('libvirtSpans on the recorded daemon logs', () => {
  it('opens exactly one phase per API call although the API function logs its params and XML too', () => {
    expect(SRC.match(/virDomainMigrateBegin3Params:\d+ : (params\[|xml )/g)!.length).toBeGreaterThan(1);
    const t = spansOf(SRC, DST);
    const phases = topPhases(t);
    expect(phases.map((s) => s.name)).toEqual(PHASES);
    for (const p of phases) expect(String(p.attributes[ATTR.codeFunction])).toMatch(/3Params$/);
    // Each starts at its API function's first line.
    const first = (fn: string, text: string) =>
      timeOf(text.split('\n').find((l) => l.includes(` : ${fn}:`))!)!;
    expect(phases[0]!.startUs).toBe(first('virDomainMigrateBegin3Params', SRC));
    expect(phases[1]!.startUs).toBe(first('virDomainMigratePrepare3Params', DST));
    expect(phases[4]!.startUs).toBe(first('virDomainMigrateConfirm3Params', SRC));
    // Begin3 ends with the XML it returns, its thread's last line of the call.
    const xml = SRC.split('\n').find((l) => /virDomainMigrateBegin3Params:\d+ : xml /.test(l))!;
    expect(phases[0]!.endUs).toBe(timeOf(xml));
    expect(ms(phases[0]!)).toBeLessThan(100);
    expect(t.rpcBounded).toBe(0);
  });

  it('bounds each phase by its RPC request and reply lines when the daemons log them (2:rpc)', () => {
    const src = withServerRpcLines(withReusedBeginThread(SRC, false));
    const dst = withServerRpcLines(DST);
    const t = spansOf(src, dst);
    expect(t.rpcBounded).toBe(5);
    const phases = topPhases(t);
    expect(phases.map((s) => s.name)).toEqual(PHASES);
    const rpcLines = (text: string) => {
      const out = new Map<number, { rx: number; tx: number; serial: number }>();
      for (const l of text.split('\n')) {
        const m = /RPC_SERVER_CLIENT_MSG_(RX|TX_QUEUE): .* proc=(\d+) type=\d status=\d serial=(\d+)/.exec(l);
        if (!m) continue;
        const r = out.get(Number(m[2])) ?? { rx: 0, tx: 0, serial: Number(m[3]) };
        if (m[1] === 'RX') r.rx = timeOf(l)!;
        else r.tx = timeOf(l)!;
        out.set(Number(m[2]), r);
      }
      return out;
    };
    const rpc = new Map([...rpcLines(src), ...rpcLines(dst)]);
    for (const p of phases) {
      const r = rpc.get(Number(p.attributes[ATTR.rpcProc]))!;
      expect(NAME_OF[Number(p.attributes[ATTR.rpcProc])]).toBe(p.name);
      expect(p.startUs, p.name).toBe(r.rx);
      expect(p.endUs, p.name).toBe(r.tx);
      expect(p.attributes[ATTR.rpcSerial]).toBe(r.serial);
      for (const k of t.spans.filter((s) => s.parent === p.id)) expect(k.endUs).toBeLessThanOrEqual(p.endUs);
    }
    // The thread's later job poll is not Begin3's: Begin3 is the 7 ms round trip, Confirm3 lasts until the
    // source QEMU has exited (libvirt logs nothing while it waits).
    expect(ms(phases[0]!)).toBeLessThan(100);
    expect(ms(phases[4]!)).toBeGreaterThan(1000);
  });

  it('without RPC lines, ends a phase where its worker thread dispatches another call', () => {
    const stretched = topPhases(spansOf(withReusedBeginThread(SRC, false), DST))[0]!;
    const cut = topPhases(spansOf(withReusedBeginThread(SRC, true), DST))[0]!;
    // No boundary in the log at all: the old rule (the thread's lines up to the next phase) still applies.
    expect(stretched.endUs).toBe(Date.parse('2026-11-27T17:47:56.100Z') * 1000);
    expect(ms(cut)).toBeLessThan(100);
    expect(cut.endUs).toBe(topPhases(spansOf(SRC, DST))[0]!.endUs);
  });

  it('keeps only the migration window: capability probing and domain start are left out', () => {
    const mon = '0x7f41a0000b20';
    const early = [
      [
        '17:47:27.100',
        'debug : virQEMUCapsInitQMPMonitor:5312 : qemuProcessQMP probing /usr/bin/qemu-system-x86_64',
      ],
      [
        '17:47:27.101',
        `info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: mon=${mon} buf={"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":{"name":"host"}},"id":"libvirt-5"}`,
      ],
      [
        '17:47:27.130',
        `info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=${mon} reply={"return": {}, "id": "libvirt-5"}`,
      ],
      ['17:47:40.000', 'debug : qemuProcessLaunch:7560 : vm=0x7f41a0015a10 name=labvm id=1 asyncJob=start'],
      [
        '17:47:40.200',
        'info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: mon=0x7f41a0013740 buf={"execute":"qmp_capabilities","id":"libvirt-1"}',
      ],
      [
        '17:47:40.210',
        'info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=0x7f41a0013740 reply={"return": {}, "id": "libvirt-1"}',
      ],
    ].map(([t, rest]) => `2026-11-27 ${t}+0000: 4480: ${rest}`);
    const src = `${early.join('\n')}\n${SRC}`;
    const whole = spansOf(src, DST);
    const root = whole.spans.find((s) => s.parent === null)!;
    expect(ms(root)).toBeGreaterThan(28_000);
    const commands = (t: LibvirtTrace) =>
      t.spans.map((s) => s.attributes[ATTR.monitorCommand]).filter(Boolean);
    expect(commands(whole)).toContain('query-cpu-model-expansion');

    const cut = spansOf(src, DST, { window: 'auto' });
    // The early lines, and the daemons' lines after Confirm3 (connection close).
    const late = [...SRC.split('\n'), ...DST.split('\n')].filter((l) => (timeOf(l) ?? 0) > cut.window!.toUs);
    expect(late.length).toBeGreaterThan(0);
    expect(cut.outside).toBe(early.length + late.length);
    expect(commands(cut)).not.toContain('query-cpu-model-expansion');
    for (const s of cut.spans) expect(s.startUs).toBeGreaterThanOrEqual(cut.window!.fromUs);
    expect(commands(cut).length).toBe(commands(whole).length - 2);
    // From the first phase's API line to the last Finish3/Confirm3, with the 100 ms margin.
    const firstApi = timeOf(SRC.split('\n').find((l) => l.includes(' : virDomainMigrateBegin3Params:'))!)!;
    expect(cut.window!.fromUs).toBe(firstApi - 100_000);
    const confirm = topPhases(cut).find((s) => s.name === SPAN.confirm3)!;
    expect(cut.window!.toUs).toBe(confirm.endUs + 100_000);
    const cutRoot = cut.spans.find((s) => s.parent === null)!;
    expect(cutRoot.startUs).toBeGreaterThanOrEqual(cut.window!.fromUs);
    expect(ms(cutRoot)).toBeLessThan(5_000);
    expect(topPhases(cut).map((s) => [s.name, s.startUs, s.endUs])).toEqual(
      topPhases(spansOf(SRC, DST)).map((s) => [s.name, s.startUs, s.endUs]),
    );
    // An explicit window works the same way; an auto window of logs without a migration is no window.
    const from = { window: { fromUs: firstApi } };
    expect(spansOf(src, DST, from).outside).toBe(spansOf(SRC, DST, from).outside + early.length);
    expect(migrationWindow([parseLibvirtLog(early.join('\n'))])).toBeNull();
  });
});

describe('virsh client log', () => {
  const client = readClientLog(VIRSH);
  const expected = clientPhaseRpcs(VIRSH);

  it('reads libvirt log header lines as entries, not as garbled', () => {
    expect(client.garbled).toBe(0);
    expect(client.rpcs.filter((r) => r.proc >= 302 && r.proc <= 307)).toHaveLength(5);
  });

  it('puts the client span tree over the daemons: virsh → Migrate3 → Version3Full → RPC round trips', () => {
    const daemons = spansOf(SRC, DST, { window: 'auto' });
    const { trace, notes } = withClientLog(client, daemons);
    expect(notes).toEqual([]);
    const roots = trace.spans.filter((s) => s.parent === null);
    expect(roots.map((s) => s.name)).toEqual([SPAN.virshMigrate]);
    const kid = (p: PlainSpan, name: string) => {
      const k = trace.spans.filter((s) => s.parent === p.id && s.name === name);
      expect(k, name).toHaveLength(1);
      return k[0]!;
    };
    const v3 = kid(kid(roots[0]!, SPAN.virDomainMigrate3), SPAN.virDomainMigrateVersion3);
    expect(v3.attributes[ATTR.inferred]).toBeUndefined();
    const phases = topPhases(trace);
    expect(phases.map((s) => s.name)).toEqual(PHASES);
    phases.forEach((p, i) => {
      expect(p.startUs, p.name).toBe(expected[i]!.txUs);
      expect(p.endUs, p.name).toBe(expected[i]!.rxUs);
      expect(p.attributes[ATTR.rpcSerial]).toBe(expected[i]!.serial);
    });
    expect(ms(phases[0]!)).toBeLessThan(100);
    // The daemon's spans keep their place under the phases.
    expect(trace.spans.some((s) => s.name === SPAN.qemuMigrationSrcRun)).toBe(true);
  });

  it('gives the client spans on its own, without daemon logs', () => {
    const { trace } = withClientLog(client, null);
    const phases = topPhases(trace);
    expect(phases.map((s) => [s.name, s.startUs, s.endUs])).toEqual(
      expected.map((r) => [NAME_OF[r.proc], r.txUs, r.rxUs]),
    );
    expect(trace.spans.filter((s) => s.parent === null).map((s) => s.name)).toEqual([SPAN.virshMigrate]);
  });

  it('counts garbled lines of a damaged client log and never throws', () => {
    const junk =
      `${VIRSH.slice(0, 5000)}\n2026-11-27 17:47:5\u0000\u0001garbage\n2026-11-27 17:47:55.7` +
      VIRSH.slice(5000, 9000);
    let c = readClientLog('');
    expect(() => {
      c = readClientLog(junk);
      withClientLog(c, null);
      withClientLog(readClientLog('not a log\n\u0000'), null);
    }).not.toThrow();
    expect(c.garbled).toBeGreaterThanOrEqual(2);
  });
});

describe('trace import --virsh-log / --window / --from --to', () => {
  const inputs = {
    libvirtLogs: [
      { file: 'src.log', text: SRC },
      { file: 'dst.log', text: DST },
    ],
    qemuLogs: [{ file: 'qemu-src.log', text: read('qemu-source-trace.log') }],
    labRecord: null,
    qmpRecords: [],
    virshLog: { file: 'virsh.log', text: VIRSH },
    seed: 1,
  };

  it('imports the client log as the root of the merged trace, with the auto window', () => {
    const r = importTrace({ ...inputs, window: 'auto' });
    const roots = r.spans.filter((s) => s.parent === null);
    expect(roots.map((s) => s.name)).toEqual([SPAN.virshMigrate]);
    expect(topPhases(r).map((s) => [s.name, s.startUs, s.endUs])).toEqual(
      clientPhaseRpcs(VIRSH).map((x) => [NAME_OF[x.proc], x.txUs, x.rxUs]),
    );
    expect(r.report.join('\n')).toMatch(
      /virsh\.log: virsh client log, \d+ entries, \d+ RPCs \(5 migration phases\)/,
    );
    expect(r.report.join('\n')).toMatch(
      /^window 2026-11-27T17:47:55\.\d+Z \.\. 2026-11-27T17:48:00\.\d+Z: 0 libvirt entries outside it left out$/m,
    );
    expect(new Set(r.readable.map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  it('keeps only --from .. --to', () => {
    const from = parseTimeUs('2026-11-27 17:47:56.172+0000')!;
    const r = importTrace({ ...inputs, virshLog: null, window: { fromUs: from } });
    expect(r.spans.filter((s) => s.name === SPAN.begin3)).toHaveLength(0);
    expect(r.spans.filter((s) => s.name === SPAN.perform3)).toHaveLength(1);
  });

  it('runs from the command line with --virsh-log and --window auto', async () => {
    const out = mkdtempSync(join(tmpdir(), 'migscope-import-'));
    const env = { ...process.env };
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      const code = await run([
        'import',
        ...['--libvirt-log', join(DIR, 'libvirtd-source.log')],
        ...['--libvirt-log', join(DIR, 'libvirtd-destination.log')],
        ...['--virsh-log', join(DIR, 'virsh.log'), '--window', 'auto', '--out', out],
      ]);
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
      process.env = env;
    }
    expect(printed).toMatch(/virsh client log/);
    expect(printed).toMatch(/^window .* left out$/m);
    const names = readFileSync(join(out, 'trace.otlp.jsonl'), 'utf8');
    expect(names).toContain(SPAN.virshMigrate);
    rmSync(out, { recursive: true, force: true });
  });

  it('reads --from/--to times and rejects bad window options', async () => {
    const t = Date.parse('2026-11-27T17:47:55.700Z') * 1000;
    expect(parseTimeUs('2026-11-27T17:47:55.700Z')).toBe(t);
    expect(parseTimeUs('2026-11-27 17:47:55.700+0000')).toBe(t);
    expect(parseTimeUs('2026-11-27T18:47:55.700123+01:00')).toBe(t + 123);
    expect(parseTimeUs('17:47:55.7', '2026-11-27')).toBe(t);
    expect(parseTimeUs('17:47:55.7')).toBeNull();
    expect(parseTimeUs('yesterday')).toBeNull();
    const out = ['--out', '/tmp/migscope-never-written'];
    const log = ['--libvirt-log', join(DIR, 'libvirtd-source.log')];
    await expect(run(['import', ...log, '--window', 'all', ...out])).rejects.toThrow(UsageError);
    await expect(run(['import', ...log, '--window', 'auto', '--from', '17:00:00', ...out])).rejects.toThrow(
      /exclude each other/,
    );
    await expect(run(['import', ...log, '--from', 'noon', ...out])).rejects.toThrow(
      /--from: expected a time/,
    );
    await expect(
      run(['import', ...log, '--from', '2026-11-27T18:00:00Z', '--to', '2026-11-27T17:00:00Z', ...out]),
    ).rejects.toThrow(/--to is before --from/);
  });
});
