/** trace/lab/guest.ts and the argument parsing of trace/lab/command.ts: what the lab boots and accepts. */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../../models/scenario.ts';
import { UsageError } from '../../../sim/errors.ts';
import { parseLabArgs } from '../../../trace/lab/command.ts';
import {
  capabilitiesFor,
  checkLabScenario,
  guestCmdline,
  guestRamBytes,
  memoryArg,
  qemuArgs,
} from '../../../trace/lab/guest.ts';

const scn = (extra: Record<string, unknown> = {}) =>
  resolveScenario(
    { name: 't', model: 'qemu-7.2', seed: 42, vm: { memoryMiB: 128 }, ...extra },
    { file: 't.yaml' },
  );

describe('guest setup', () => {
  it('adds 8 KiB to guest RAM (QEMU 7.2 TCG loses dirty pages on 256 KiB multiples)', () => {
    expect(memoryArg(scn())).toBe('131080K');
    expect((131080 * 1024) % (256 * 1024)).not.toBe(0);
    expect(guestRamBytes(scn())).toBe(131080 * 1024);
  });

  it('hands the workload to the guest on the kernel command line, in simulator page units', () => {
    const s = scn({ workload: { kind: 'zipf', wssMiB: 32, dirtyRateMiBps: 8, zipfS: 1.1 } });
    expect(guestCmdline(s)).toBe(
      'console=ttyS0 quiet nokaslr lab_kind=zipf lab_pages=32768 lab_wss_pages=8192 lab_rate=8 lab_zipfs=1.1 lab_seed=42 lab_hb=1',
    );
    const d = scn({
      disk: { sizeMiB: 64, allocatedMiB: 16, migrate: true },
      workload: { diskWriteMiBps: 0.02 },
    });
    expect(guestCmdline(d)).toContain('lab_kind=idle lab_pages=32768 lab_wss_pages=0');
    expect(guestCmdline(d)).toMatch(/lab_disk=1 lab_disk_rate=0.02 lab_disk_alloc=16$/);
  });

  it('sets events on both sides and block on the source only', () => {
    const s = scn({ disk: { migrate: true }, migration: { capabilities: ['auto-converge', 'multifd'] } });
    expect(capabilitiesFor(s, 'source').map((c) => c.capability)).toEqual([
      'events',
      'auto-converge',
      'multifd',
      'block',
    ]);
    expect(capabilitiesFor(s, 'destination').map((c) => c.capability)).toEqual(['events', 'multifd']);
  });

  it('starts the destination paused, waiting for migrate-incoming', () => {
    const lab = {
      dir: '/l',
      kernel: '/l/vmlinuz',
      initrd: '/l/initrd.gz',
      dirtier: '/l/dirtier',
      qemu: 'q',
      qemuImg: 'i',
    };
    const f = { qmp: '/t/d.qmp', serial: '/t/s', trace: '/t/t', stderr: '/t/e', disk: '/t/d.qcow2' };
    const args = qemuArgs(scn(), lab, f, '/t/ev', true);
    expect(args.join(' ')).toContain('-accel tcg');
    expect(args.join(' ')).toContain('-trace events=/t/ev,file=/t/t -msg timestamp=on');
    expect(args.slice(-3)).toEqual(['-incoming', 'defer', '-S']);
    expect(args).toContain('virtio-blk-pci,drive=disk0');
  });

  it('rejects what the lab cannot run, naming the key', () => {
    const bad = (s: ReturnType<typeof scn>) => {
      try {
        checkLabScenario(s);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(bad(scn())).toBe('accepted');
    expect(bad(resolveScenario({ name: 'o' }))).toMatch(/^o: model: the lab runs QEMU 7.2/);
    expect(bad(scn({ vm: { memoryMiB: 32 } }))).toMatch(/vm.memoryMiB: .* at least 64 MiB/);
    expect(bad(scn({ workload: { kind: 'uniform', wssMiB: 100 } }))).toMatch(
      /workload.wssMiB: .* <= 64 MiB \(got 100\)/,
    );
    expect(bad(scn({ workload: { kind: 'replay', replay: 'x.jsonl' } }))).toMatch(/workload.kind/);
  });
});

describe('lab command arguments', () => {
  it('needs the subcommand run and one file', () => {
    expect(parseLabArgs(['run', 'x.yaml'])).toEqual({
      file: 'x.yaml',
      out: undefined,
      sets: [],
      sampleMs: 50,
    });
    expect(
      parseLabArgs(['run', 'x.yaml', '--out', 'o', '--set', 'a=1', '--set', 'b=2', '--sample-ms', '20']),
    ).toEqual({
      file: 'x.yaml',
      out: 'o',
      sets: ['a=1', 'b=2'],
      sampleMs: 20,
    });
    expect(() => parseLabArgs([])).toThrow(/expected the subcommand "run"/);
    expect(() => parseLabArgs(['x.yaml'])).toThrow(UsageError);
    expect(() => parseLabArgs(['run'])).toThrow(/expected one scenario file, got 0/);
    expect(() => parseLabArgs(['run', 'x.yaml', '--bogus'])).toThrow(UsageError);
    expect(() => parseLabArgs(['run', 'x.yaml', '--sample-ms', '0'])).toThrow(/--sample-ms/);
  });
});
