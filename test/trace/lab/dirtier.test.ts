/**
 * The guest workload program (trace/lab/guest/dirtier.c) against the simulator's generator
 * (models/workloads/page-writes.ts, models/guest/disk.ts): the same page and disk-block sequence, bit for
 * bit, for several seeds and kinds. Compiles the C program with gcc (installed by test/setup).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadKind } from '../../../models/scenario.ts';
import { pageWriteSequence } from '../../../models/workloads/page-writes.ts';
import { STREAM } from '../../../models/workloads/streams.ts';
import { createRng } from '../../../sim/random.ts';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';

const N = 5000;
let dir: string;
let bin: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'migscope-dirtier-'));
  bin = join(dir, 'dirtier');
  execFileSync('gcc', [
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-o',
    bin,
    join(REPO_ROOT, 'trace/lab/guest/dirtier.c'),
    '-lm',
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cPages(kind: string, pages: number, wss: number, seed: number, zipfS = 1.1, n = N): number[] {
  const out = execFileSync(
    bin,
    [
      '-k',
      kind,
      '-p',
      String(pages),
      '-w',
      String(wss),
      '-e',
      String(seed),
      '-z',
      String(zipfS),
      '-P',
      String(n),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  return out.trim() ? out.trim().split('\n').map(Number) : [];
}

function tsPages(
  kind: WorkloadKind,
  pages: number,
  wssPages: number,
  seed: number,
  zipfS = 1.1,
  n = N,
): number[] {
  const seq = pageWriteSequence({ kind, pages, wssPages, zipfS, seed });
  return seq ? Array.from({ length: n }, () => seq.next()) : [];
}

describe('dirtier.c page sequence', () => {
  const seeds = [0, 1, 42, 123456789, 2 ** 32 - 1];
  for (const kind of ['uniform', 'zipf', 'sequential'] as const) {
    it(`matches pageWriteSequence for ${kind} over ${seeds.length} seeds`, () => {
      for (const seed of seeds) {
        // 128 MiB guest, 32 MiB working set (the lab's fixture sizes).
        expect(cPages(kind, 32768, 8192, seed), `seed ${seed}`).toEqual(tsPages(kind, 32768, 8192, seed));
      }
    });
  }

  it('matches zipf for other exponents and a large working set', () => {
    for (const s of [0.6, 0.99, 1.5, 2.5])
      expect(cPages('zipf', 262144, 65536, 7, s), `s=${s}`).toEqual(tsPages('zipf', 262144, 65536, 7, s));
  });

  it('clamps the working set to RAM and writes nothing when idle or empty', () => {
    expect(cPages('uniform', 1000, 5000, 3)).toEqual(tsPages('uniform', 1000, 5000, 3));
    expect(cPages('idle', 32768, 8192, 3)).toEqual([]);
    expect(tsPages('idle', 32768, 8192, 3)).toEqual([]);
    expect(cPages('uniform', 32768, 0, 3)).toEqual([]);
  });

  it('matches the disk write offsets of models/guest/disk.ts (stream 2)', () => {
    for (const [seed, allocMiB] of [
      [1, 64],
      [42, 16],
      [99, 0.5],
    ] as const) {
      const out = execFileSync(bin, ['-A', String(allocMiB), '-e', String(seed), '-B', '2000'], {
        encoding: 'utf8',
      });
      const rng = createRng(seed, STREAM.diskWrites);
      const blocks = Math.floor((allocMiB * 1048576) / 4096);
      const expected = Array.from({ length: 2000 }, () => rng.uint32() % blocks);
      expect(out.trim().split('\n').map(Number), `seed ${seed}`).toEqual(expected);
    }
  });

  it('rejects an unknown kind with exit code 2', () => {
    expect(() => execFileSync(bin, ['-k', 'bursty', '-P', '1'], { stdio: 'pipe' })).toThrow(
      /unknown kind bursty/,
    );
  });
});
