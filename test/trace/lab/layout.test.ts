/** trace/lab/layout.ts without QEMU: the guest's placement line and the zero pages of a RAM dump. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../sim/errors.ts';
import { parseLabLayoutArgs } from '../../../trace/lab/command.ts';
import { parseWssRuns, zeroRuns } from '../../../trace/lab/layout.ts';

describe('parseWssRuns', () => {
  const serial = [
    'Run /init as init process',
    'LAB_DIRTIER kind=uniform pages=32768 wss=6',
    'LAB_WSS_PFN_RUNS pages=6 runs=3 25591+1,100+3,7+2\r',
    'LAB_WORKLOAD_START',
    'LAB_HB writes=0 disk_writes=0 rate=0.00',
    '',
  ].join('\n');

  it('reads the runs in buffer order among other lines', () => {
    expect(parseWssRuns(serial)).toEqual([
      [25591, 1],
      [100, 3],
      [7, 2],
    ]);
  });

  it('is null without the line', () => {
    expect(parseWssRuns('LAB_WORKLOAD_START\n')).toBeNull();
    expect(parseWssRuns('')).toBeNull();
  });

  it('rejects a total that does not match pages=N', () => {
    expect(() => parseWssRuns('LAB_WSS_PFN_RUNS pages=7 runs=2 10+3,20+3\n')).toThrow(
      /hold 6 pages, the line says pages=7/,
    );
  });

  it('rejects unmapped pages, garbled runs and an unreadable page map', () => {
    expect(() => parseWssRuns('LAB_WSS_PFN_RUNS pages=3 runs=2 10+2,-\n')).toThrow(/not mapped/);
    expect(() => parseWssRuns('LAB_WSS_PFN_RUNS pages=3 runs=1 10+x\n')).toThrow(/bad run/);
    expect(() => parseWssRuns('LAB_WSS_PFN_RUNS pages=3 runs=2 10+3\n')).toThrow(/runs=2/);
    expect(() => parseWssRuns('LAB_WSS_PFN_RUNS unavailable: Permission denied\n')).toThrow(
      /Permission denied/,
    );
  });
});

describe('zeroRuns', () => {
  const dir = mkdtempSync(join(tmpdir(), 'migscope-layout-probe-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the all-zero pages of a dump, reading only the first `pages`', () => {
    // 2000 pages (more than one 1024-page read): non-zero at 0, 5 (last byte only), 1023, 1024 and 1999.
    const pages = 2000;
    const buf = Buffer.alloc(pages * 4096);
    buf[0] = 1;
    buf[5 * 4096 + 4095] = 0x80;
    buf[1023 * 4096 + 17] = 3;
    buf[1024 * 4096 + 4088] = 1;
    buf[1999 * 4096] = 9;
    const file = join(dir, 'ram.mem');
    writeFileSync(file, buf);
    expect(zeroRuns(file, pages)).toEqual([
      [1, 4],
      [6, 1017],
      [1025, 974],
    ]);
    // The extra pages at the end (QEMU's RAM is 2 pages larger) are not read.
    expect(zeroRuns(file, 1999)).toEqual([
      [1, 4],
      [6, 1017],
      [1025, 974],
    ]);
    expect(zeroRuns(file, 5)).toEqual([[1, 4]]);
  });

  it('fails on a dump shorter than `pages`', () => {
    const file = join(dir, 'short.mem');
    writeFileSync(file, Buffer.alloc(3 * 4096 + 100));
    expect(() => zeroRuns(file, 4)).toThrow(/3 pages, expected 4/);
  });
});

describe('lab layout arguments', () => {
  it('parses FILE, --output and --set', () => {
    expect(parseLabLayoutArgs(['layout', 'x.yaml'])).toEqual({ file: 'x.yaml', output: undefined, sets: [] });
    expect(
      parseLabLayoutArgs(['layout', 'x.yaml', '--output', 'l.json', '--set', 'a=1', '--set', 'b=2']),
    ).toEqual({ file: 'x.yaml', output: 'l.json', sets: ['a=1', 'b=2'] });
  });

  it('rejects bad input with a UsageError', () => {
    expect(() => parseLabLayoutArgs(['layout'])).toThrow(/expected one scenario file, got 0/);
    expect(() => parseLabLayoutArgs(['layout', 'x.yaml', '--out', 'd'])).toThrow(UsageError);
    expect(() => parseLabLayoutArgs(['layout', 'x.yaml', '--output', ''])).toThrow(/--output/);
  });
});
