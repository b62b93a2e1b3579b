/** trace/import/libvirt-log.ts: libvirtd debug logs → libvirt API → qemu driver → monitor command spans. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importLibvirtLogs,
  inferSide,
  type LibvirtTrace,
  libvirtSpans,
  parseLibvirtLog,
} from '../../../trace/import/libvirt-log.ts';
import type { PlainSpan } from '../../../trace/import/plain-spans.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import { ATTR, EVENT, SPAN } from '../../../trace/names.ts';

const DIR = join(REPO_ROOT, 'test/fixtures/libvirt');
const read = (name: string) => readFileSync(join(DIR, name), 'utf8');
/** µs since the epoch of 2026-11-27 15:MM:SS.ms UTC. */
const at = (hms: string) => {
  const [whole, frac = ''] = hms.split('.');
  return Date.parse(`2026-11-27T${whole}Z`) * 1000 + Number(frac.padEnd(6, '0'));
};

function tree(t: LibvirtTrace) {
  const byId = new Map(t.spans.map((s) => [s.id, s]));
  const parentOf = (s: PlainSpan) => (s.parent ? byId.get(s.parent) : undefined);
  const named = (name: string) => t.spans.filter((s) => s.name === name);
  const one = (name: string) => {
    const list = named(name);
    expect(list, name).toHaveLength(1);
    return list[0]!;
  };
  const commands = (cmd: string) => t.spans.filter((s) => s.attributes[ATTR.monitorCommand] === cmd);
  return { byId, parentOf, named, one, commands };
}

describe('parseLibvirtLog', () => {
  it('reads libvirtd lines: ms timestamp with zone, thread, level, function:line, message', () => {
    const log = parseLibvirtLog(
      '2026-11-27 15:20:32.975+0000: 30137: debug : virDomainMigrateBegin3Params:5235 : dom=0x7fb254019150\n' +
        '2026-11-27 16:20:33.001+0100: 30487: info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: mon=0x1 buf={"execute":"cont","id":"libvirt-1"}\r\n' +
        ' len=35 ret=35 errno=0\n',
    );
    expect(log.garbled).toBe(0);
    expect(log.continuation).toBe(1);
    expect(log.entries).toHaveLength(2);
    expect(log.entries[0]).toMatchObject({
      tUs: at('15:20:32.975'),
      tid: 30137,
      level: 'debug',
      fn: 'virDomainMigrateBegin3Params',
      line: 5235,
      msg: 'dom=0x7fb254019150',
      side: 'source',
      lineNo: 1,
    });
    // +0100: the same instant as 15:20:33.001 UTC; the `len=` continuation is joined to its entry.
    expect(log.entries[1]!.tUs).toBe(at('15:20:33.001'));
    expect(log.entries[1]!.msg).toMatch(/"id":"libvirt-1"}\r?\n len=35 ret=35 errno=0$/);
    expect(log.dated).toBe(true);
  });

  it('joins multi-line XML to its entry and tells source from destination logs', () => {
    const src = parseLibvirtLog(read('managed-src.log'));
    const dst = parseLibvirtLog(read('managed-dst.log'));
    expect(src.garbled + dst.garbled).toBe(0);
    const begin = src.entries.find((e) => e.fn === 'qemuMigrationSrcBeginPhase')!;
    expect(begin.msg.split('\n')).toHaveLength(4);
    expect(begin.msg).toMatch(/<name>labvm<\/name>/);
    expect(inferSide(src.entries)).toBe('source');
    expect(inferSide(dst.entries)).toBe('destination');
    expect(new Set(dst.entries.map((e) => e.side))).toEqual(new Set(['destination']));
    expect(src.lines).toBe(115);
    expect(src.entries.length + src.continuation).toBe(115);
  });

  it('reads the condensed S/D form of real-lab.md, dated only when told the date', () => {
    const text = read('condensed-sample.log');
    const undated = parseLibvirtLog(text);
    expect(undated.dated).toBe(false);
    expect(undated.entries).toHaveLength(42);
    expect(undated.entries[0]!.tUs).toBe(Date.parse('1970-01-01T15:20:32.975Z') * 1000);
    const dated = parseLibvirtLog(text, { date: '2026-11-27' });
    expect(dated.dated).toBe(true);
    expect(dated.entries[0]!.tUs).toBe(at('15:20:32.975'));
    expect(dated.entries.filter((e) => e.side === 'destination').map((e) => e.tid)).toContain(30439);
    expect(dated.entries.filter((e) => e.side === 'source')).toHaveLength(25);
  });

  it('counts torn, headless and binary lines as garbled and never throws', () => {
    const log = parseLibvirtLog(read('garbled-src.log'));
    expect(log.garbled).toBe(3);
    expect(log.garbledSamples).toHaveLength(3);
    expect(log.garbledSamples[0]).toMatch(/^line 6: 2026-11-27 15:20:32\.985\+0000: 30137: debug : $/);
    expect(log.garbledSamples[1]).toBe('line 61: 2026-11-27 15:20:');
    // Seeded junk: random bytes and random cuts of real lines parse without throwing.
    const real = read('managed-src.log');
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 200; i++) {
      const a = Math.floor(rnd() * real.length);
      const junk = `${real.slice(a, a + Math.floor(rnd() * 400))}${String.fromCharCode(Math.floor(rnd() * 256))}`;
      expect(() => libvirtSpans([parseLibvirtLog(junk)])).not.toThrow();
    }
  });
});

describe('libvirtSpans (managed migration, source + destination daemons)', () => {
  const t = libvirtSpans([
    parseLibvirtLog(read('managed-src.log')),
    parseLibvirtLog(read('managed-dst.log')),
  ]);
  const { one, parentOf, named, commands } = tree(t);

  it('counts what it read', () => {
    expect(t.counts).toEqual({
      lines: 192,
      entries: 135,
      garbled: 0,
      continuation: 57,
      truncated: 0,
      commands: 23,
      unanswered: 0,
      events: 15,
    });
    expect(t.dated).toBe(true);
  });

  it('builds API → phase → driver spans with the simulator names', () => {
    const root = one(SPAN.virDomainMigrateVersion3);
    expect(root.parent).toBeNull();
    expect(root.attributes[ATTR.inferred]).toBe(true);
    expect(t.spans.filter((s) => s.parent === null)).toEqual([root]);
    const phases = t.spans.filter((s) => s.parent === root.id);
    expect(phases.map((p) => p.name)).toEqual([
      SPAN.begin3,
      SPAN.prepare3,
      SPAN.perform3,
      SPAN.finish3,
      SPAN.confirm3,
    ]);
    expect(phases.map((p) => p.attributes[ATTR.rpcProc])).toEqual([302, 303, 305, 306, 307]);
    expect(phases.map((p) => p.attributes[ATTR.monitorSide])).toEqual([
      'source',
      'destination',
      'source',
      'destination',
      'source',
    ]);
    // Phases start at their API line and do not overlap (managed migration is sequential).
    expect(phases.map((p) => p.startUs)).toEqual(
      ['15:20:32.975', '15:20:32.993', '15:20:34.164', '15:20:42.093', '15:20:42.212'].map(at),
    );
    for (let i = 1; i < phases.length; i++)
      expect(phases[i]!.startUs).toBeGreaterThanOrEqual(phases[i - 1]!.endUs);
    // Perform3 ends with the final query-migrate's cookie line; Confirm3 with qemuProcessStop's last line.
    expect(phases[2]!.endUs).toBe(at('15:20:42.088'));
    expect(phases[4]!.endUs).toBe(at('15:20:42.236'));
    expect(parentOf(one(SPAN.qemuMigrationSrcBegin))).toBe(phases[0]);
    expect(parentOf(one(SPAN.qemuMigrationDstPrepare))).toBe(phases[1]);
    expect(parentOf(one(SPAN.qemuProcessStart))?.name).toBe(SPAN.qemuMigrationDstPrepare);
    expect(one(SPAN.qemuProcessStart).endUs).toBe(at('15:20:34.150'));
    expect(parentOf(one(SPAN.qemuMigrationSrcPerform))).toBe(phases[2]);
    expect(parentOf(one(SPAN.qemuMigrationSrcRun))?.name).toBe(SPAN.qemuMigrationSrcPerform);
    expect(parentOf(one(SPAN.qemuMigrationSrcWaitForCompletion))?.name).toBe(SPAN.qemuMigrationSrcRun);
    expect(parentOf(one(SPAN.qemuMigrationDstFinish))).toBe(phases[3]);
    expect(parentOf(one(SPAN.qemuMigrationSrcConfirm))).toBe(phases[4]);
  });

  it('puts each monitor command under the driver span that issued it, send → reply by id', () => {
    const parentName = (cmd: string) => [...new Set(commands(cmd).map((c) => parentOf(c)!.name))];
    expect(parentName('qom-get')).toEqual([SPAN.qemuProcessStart]);
    expect(parentName('qmp_capabilities')).toEqual([SPAN.qemuProcessStart]);
    expect(parentName('migrate-incoming')).toEqual([SPAN.qemuMigrationDstPrepare]);
    expect(parentName('getfd')).toEqual([SPAN.qemuMigrationSrcRun]);
    expect(parentName('migrate')).toEqual([SPAN.qemuMigrationSrcRun]);
    expect(parentName('migrate-continue')).toEqual([SPAN.qemuMigrationSrcWaitForCompletion]);
    expect(parentName('cont')).toEqual([SPAN.qemuMigrationDstFinish]);
    const polls = commands('query-migrate');
    expect(polls.map((p) => parentOf(p)!.name)).toEqual([
      SPAN.qemuMigrationSrcBegin,
      ...Array(6).fill(SPAN.qemuMigrationSrcWaitForCompletion),
      SPAN.qemuMigrationSrcRun, // the final statistics, after the completed event
    ]);
    const migrate = commands('migrate')[0]!;
    // SEND_MSG (worker thread 30135) and IO_WRITE (event loop) are one command; the reply ends it.
    expect(migrate.startUs).toBe(at('15:20:34.188'));
    expect(migrate.endUs).toBe(at('15:20:34.190'));
    expect(migrate.attributes).toMatchObject({
      [ATTR.monitorId]: 'libvirt-417',
      [ATTR.monitorSide]: 'source',
      [ATTR.threadId]: 30135,
      [ATTR.uri]: 'fd:migrate',
      [ATTR.monitorOk]: true,
    });
    const params = commands('migrate-set-parameters').find(
      (c) => c.attributes[ATTR.monitorId] === 'libvirt-415' && c.attributes[ATTR.monitorSide] === 'source',
    )!;
    expect(params.attributes[ATTR.maxBandwidth]).toBe(33554432);
    expect(polls[1]!.attributes).toMatchObject({
      [ATTR.state]: 'active',
      [ATTR.pendingBytes]: 527835136,
      [ATTR.bandwidthEstimate]: 33550000,
    });
    expect(commands('migrate-set-capabilities').map((c) => c.attributes[ATTR.capabilities])).toEqual([
      'events,late-block-activate,return-path',
      'events,pause-before-switchover,return-path',
    ]);
    // Same id on two monitors (libvirt-414/415 on both daemons) are different commands.
    expect(commands('cont')[0]!.attributes[ATTR.monitorSide]).toBe('destination');
  });

  it('keeps QMP events with QEMU timestamps and derives the pre-switchover wait', () => {
    const wait = one(SPAN.qemuMigrationSrcWaitForCompletion);
    expect(wait.startUs).toBe(at('15:20:34.190'));
    expect(wait.endUs).toBe(at('15:20:42.085'));
    expect(wait.attributes[ATTR.outcome]).toBe('completed');
    const states = wait.events
      .filter((e) => e.name === EVENT.migrationState)
      .map((e) => e.attributes[ATTR.state]);
    // `setup` arrives before the migrate reply that starts the wait: it stays on qemuMigrationSrcRun.
    expect(states).toEqual(['active', 'pre-switchover', 'device', 'completed']);
    expect(one(SPAN.qemuMigrationSrcRun).events.map((e) => e.attributes[ATTR.state])).toEqual(['setup']);
    const passes = wait.events.filter((e) => e.name === EVENT.migrationPass);
    expect(passes.map((e) => e.attributes[ATTR.pass])).toEqual([1, 2, 3, 4, 5]);
    expect(passes[0]!.tUs).toBe(at('15:20:34.194402'));
    expect(wait.events.filter((e) => e.name === EVENT.stop)).toHaveLength(1);
    const pre = one(SPAN.preSwitchoverWait);
    expect(pre.parent).toBe(wait.id);
    expect([pre.startUs, pre.endUs]).toEqual([at('15:20:42.068655'), at('15:20:42.084570')]);
    expect(one(SPAN.qemuMigrationDstFinish).events.map((e) => e.name)).toEqual([EVENT.resume]);
  });

  it('nests every child inside its parent', () => {
    const byId = new Map(t.spans.map((s) => [s.id, s]));
    for (const s of t.spans) {
      expect(s.endUs).toBeGreaterThanOrEqual(s.startUs);
      if (!s.parent) continue;
      const p = byId.get(s.parent)!;
      expect(s.startUs, s.name).toBeGreaterThanOrEqual(p.startUs);
      expect(s.endUs, s.name).toBeLessThanOrEqual(p.endUs);
    }
    expect(named(SPAN.monitorCommand)).toHaveLength(23);
  });
});

describe('libvirtSpans on damaged and condensed logs', () => {
  it('uses what a damaged log still has and counts the rest', () => {
    const t = libvirtSpans([parseLibvirtLog(read('garbled-src.log'))]);
    expect(t.counts.garbled).toBe(3);
    // The query-migrate reply cut mid-JSON: counted, and its command stays without a reply.
    expect(t.counts.truncated).toBe(1);
    expect(t.counts.unanswered).toBe(1);
    expect(t.counts.commands).toBe(13);
    const unanswered = t.spans.filter((s) => s.name === SPAN.monitorCommand && s.attributes[ATTR.inferred]);
    expect(unanswered.map((s) => s.attributes[ATTR.monitorId])).toEqual(['libvirt-421']);
    expect(unanswered[0]!.endUs).toBe(unanswered[0]!.startUs);
    expect(tree(t).named(SPAN.perform3)).toHaveLength(1);
  });

  it('rebuilds the tree from the doc sample: cut commands, statuses from EmitMigrationStatus', () => {
    const t = libvirtSpans([parseLibvirtLog(read('condensed-sample.log'), { date: '2026-11-27' })]);
    const { one, named, commands, parentOf } = tree(t);
    expect(t.counts).toMatchObject({
      entries: 42,
      garbled: 0,
      truncated: 2,
      commands: 10,
      unanswered: 10,
      events: 8,
    });
    expect(named(SPAN.begin3).length + named(SPAN.prepare3).length + named(SPAN.perform3).length).toBe(3);
    // Cut JSON still names its command; the id was cut off, so it has none.
    const cut = commands('migrate-set-parameters').filter((c) => c.attributes[ATTR.monitorId] === undefined);
    expect(cut).toHaveLength(2);
    expect(parentOf(commands('migrate')[0]!)!.name).toBe(SPAN.qemuMigrationSrcRun);
    const wait = one(SPAN.qemuMigrationSrcWaitForCompletion);
    expect(wait.events.map((e) => e.attributes[ATTR.state])).toEqual([
      'setup',
      'active',
      'pre-switchover',
      'device',
      'completed',
    ]);
    expect(wait.attributes[ATTR.outcome]).toBe('completed');
  });
});

describe('importLibvirtLogs', () => {
  it('stamps one deterministic OpenTelemetry trace with the parentage of the plain spans', () => {
    const texts = [read('managed-src.log'), read('managed-dst.log')];
    const a = importLibvirtLogs(texts, { seed: 3 });
    const b = importLibvirtLogs(texts, { seed: 3 });
    expect(a.readable).toHaveLength(a.spans.length);
    expect(new Set(a.readable.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(a.readable.map((s) => s.spanContext().spanId)).toEqual(
      b.readable.map((s) => s.spanContext().spanId),
    );
    const ids = new Map(a.readable.map((s, i) => [s.spanContext().spanId, a.spans[i]!]));
    a.readable.forEach((s, i) => {
      const plain = a.spans[i]!;
      expect(s.name).toBe(plain.name);
      const parent = s.parentSpanContext?.spanId;
      expect(parent ? ids.get(parent)!.id : null).toBe(plain.parent);
      expect(s.startTime[0] * 1e6 + s.startTime[1] / 1000).toBe(plain.startUs);
    });
  });
});

describe('libvirtSpans (p2p: the source daemon drives the protocol)', () => {
  // Hand-made from real-lab.md §4.4 ("p2p adds qemuMigrationSrcPerformPeer2Peer → …Peer2Peer3 … logs
  // Prepare3, Perform3 uri=…, Finish3, Confirm3"); source and destination daemon logs.
  const L = (t: string, tid: number, fn: string, msg: string) =>
    `2026-11-27 15:29:${t}+0000: ${tid}: debug : ${fn} : ${msg}`;
  const io = (t: string, tid: number, mon: string, cmd: string, id: string, reply: string) =>
    [
      L(
        t,
        tid,
        'qemuMonitorIOWrite:366',
        `QEMU_MONITOR_IO_WRITE: mon=${mon} buf={"execute":"${cmd}","id":"${id}"}\r\n len=40 ret=40 errno=0`,
      ),
      L(
        reply,
        tid,
        'qemuMonitorJSONIOProcessLine:240',
        `QEMU_MONITOR_RECV_REPLY: mon=${mon} reply={"return": {}, "id": "${id}"}`,
      ),
    ].join('\n');
  const src = [
    L(
      '19.950',
      4001,
      'virDomainMigratePerform3Params:5378',
      'dom=0x1, dconnuri=qemu+unix:///system?socket=/lab/lv1/run/libvirt-sock, flags=0x3',
    ),
    L(
      '19.951',
      4001,
      'qemuMigrationSrcPerform:6226',
      'driver=0x2, conn=0x3, vm=0x4, xmlin=<null>, flags=0x3, v3proto=1',
    ),
    L(
      '19.952',
      4001,
      'qemuMigrationSrcPerformPeer2Peer3:5561',
      'driver=0x2, sconn=0x3, dconn=0x5, dconnuri=qemu+unix:///system, vm=0x4',
    ),
    L('19.953', 4001, 'qemuMigrationSrcPerformPeer2Peer3:5640', 'Prepare3 0x5'),
    L('20.640', 4001, 'qemuMigrationSrcPerformPeer2Peer3:5700', 'Perform3 0x3 uri=tcp:10.200.0.1:49252'),
    L('20.641', 4001, 'qemuMigrationSrcRun:4724', 'driver=0x2, vm=0x4'),
    io('20.650', 4100, '0xa', 'migrate', 'libvirt-30', '20.652'),
    L('25.900', 4100, 'qemuMonitorEmitMigrationStatus:1311', 'mon=0xa, status=completed'),
    L('25.901', 4001, 'qemuMigrationSrcPerformPeer2Peer3:5780', 'Finish3 0x5 ret=0'),
    L('25.990', 4001, 'qemuMigrationSrcPerformPeer2Peer3:5820', 'Confirm3 0x3 cancelled=0 vm=0x4'),
    L('25.991', 4001, 'qemuMigrationSrcConfirmPhase:3909', 'driver=0x2, vm=0x4'),
    L('25.995', 4001, 'qemuProcessStop:8401', 'Shutting down vm=0x4 name=labvm'),
  ].join('\n');
  const dst = [
    L('19.960', 5001, 'virDomainMigratePrepare3Params:5281', 'dconn=0x6, flags=0x3'),
    L('19.961', 5001, 'qemuMigrationDstPrepareFresh:3266', 'name=labvm, protocol=tcp, port=49252'),
    io('20.600', 5100, '0xb', 'migrate-incoming', 'libvirt-20', '20.602'),
    L('25.910', 5002, 'virDomainMigrateFinish3Params:5424', 'dconn=0x6, flags=0x3, cancelled=0'),
    L('25.911', 5002, 'qemuMigrationDstFinish:6760', 'driver=0x7, dconn=0x6, vm=0x8'),
    io('25.950', 5100, '0xb', 'cont', 'libvirt-21', '25.952'),
  ].join('\n');
  const t = libvirtSpans([parseLibvirtLog(src), parseLibvirtLog(dst)]);
  const { byId } = tree(t);
  const path = (s: PlainSpan): string[] => (s.parent ? [...path(byId.get(s.parent)!), s.name] : [s.name]);
  const cmd = (c: string) => t.spans.find((s) => s.attributes[ATTR.monitorCommand] === c)!;

  it('nests the destination daemon calls under the source phases that made them', () => {
    const p2p = [
      SPAN.virDomainMigrateToURI3,
      SPAN.perform3,
      SPAN.qemuMigrationSrcPerform,
      SPAN.qemuMigrationSrcPerformPeer2Peer,
    ];
    expect(path(cmd('migrate-incoming'))).toEqual([
      ...p2p,
      SPAN.prepare3,
      SPAN.prepare3,
      SPAN.qemuMigrationDstPrepare,
      SPAN.monitorCommand,
    ]);
    expect(path(cmd('migrate'))).toEqual([
      ...p2p,
      SPAN.perform3,
      SPAN.qemuMigrationSrcRun,
      SPAN.monitorCommand,
    ]);
    expect(path(cmd('cont'))).toEqual([
      ...p2p,
      SPAN.finish3,
      SPAN.finish3,
      SPAN.qemuMigrationDstFinish,
      SPAN.monitorCommand,
    ]);
    expect(path(t.spans.find((s) => s.name === SPAN.qemuMigrationSrcWaitForCompletion)!)).toEqual([
      ...p2p,
      SPAN.perform3,
      SPAN.qemuMigrationSrcRun,
      SPAN.qemuMigrationSrcWaitForCompletion,
    ]);
    const subs = t.spans.filter(
      (s) => byId.get(s.parent ?? '')?.name === SPAN.qemuMigrationSrcPerformPeer2Peer,
    );
    expect(subs.map((s) => s.name)).toEqual([SPAN.prepare3, SPAN.perform3, SPAN.finish3, SPAN.confirm3]);
    expect(subs.map((s) => s.startUs)).toEqual(
      ['19.953', '20.640', '25.901', '25.990'].map((x) => at(`15:29:${x}`)),
    );
    // Every parent covers its children, also across the two daemons' logs.
    for (const s of t.spans) {
      const p = s.parent ? byId.get(s.parent)! : null;
      if (p) expect(s.endUs, s.name).toBeLessThanOrEqual(p.endUs);
      if (p) expect(s.startUs, s.name).toBeGreaterThanOrEqual(p.startUs);
    }
  });
});
