import { describe, expect, it } from 'vitest';
import { ContentModel } from '../../../models/workloads/content.ts';
import { pageWriteSequence, zipfCdf } from '../../../models/workloads/page-writes.ts';

describe('page-write sequences', () => {
  it('idle writes nothing', () => {
    expect(pageWriteSequence({ kind: 'idle', pages: 100, wssPages: 10, zipfS: 1, seed: 1 })).toBeNull();
  });

  it('uniform stays in the working set at the top of RAM and covers it evenly', () => {
    const seq = pageWriteSequence({ kind: 'uniform', pages: 1000, wssPages: 100, zipfS: 1, seed: 3 })!;
    expect(seq.base).toBe(900);
    const counts = new Array(100).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const p = seq.next();
      if (p < 900 || p >= 1000) outside++;
      else counts[p - 900]++;
    }
    expect(outside).toBe(0);
    expect(Math.min(...counts)).toBeGreaterThan(850);
    expect(Math.max(...counts)).toBeLessThan(1150);
  });

  it('sequential walks the working set in order', () => {
    const seq = pageWriteSequence({ kind: 'sequential', pages: 50, wssPages: 5, zipfS: 1, seed: 3 })!;
    expect(Array.from({ length: 7 }, () => seq.next())).toEqual([45, 46, 47, 48, 49, 45, 46]);
  });

  it('zipf favours low ranks as the CDF says', () => {
    const cdf = zipfCdf(1000, 1.1);
    const seq = pageWriteSequence({ kind: 'zipf', pages: 1000, wssPages: 1000, zipfS: 1.1, seed: 5 })!;
    let rank0 = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) if (seq.next() === 0) rank0++;
    expect(rank0 / n).toBeCloseTo(cdf[0]!, 2);
    expect(cdf[999]).toBeCloseTo(1, 12);
  });

  it('is reproducible by seed and differs across seeds', () => {
    const a = pageWriteSequence({ kind: 'uniform', pages: 1 << 20, wssPages: 1 << 16, zipfS: 1, seed: 11 })!;
    const b = pageWriteSequence({ kind: 'uniform', pages: 1 << 20, wssPages: 1 << 16, zipfS: 1, seed: 11 })!;
    const c = pageWriteSequence({ kind: 'uniform', pages: 1 << 20, wssPages: 1 << 16, zipfS: 1, seed: 12 })!;
    const sa = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(sa);
  });
});

describe('content model', () => {
  it('makes about the requested share of pages uniform', () => {
    const c = new ContentModel(1, 0.55);
    let u = 0;
    const n = 1 << 18;
    for (let p = 0; p < n; p++) if (c.initiallyUniform(p)) u++;
    expect(u / n).toBeCloseTo(0.55, 2);
    expect(new ContentModel(1, 0).initiallyUniform(5)).toBe(false);
    expect(new ContentModel(1, 1).initiallyUniform(5)).toBe(true);
  });
});

describe('mod32', () => {
  it('equals unsigned modulo for all 32-bit values, including near-integer quotients', async () => {
    const { mod32 } = await import('../../../models/workloads/page-writes.ts');
    const xs = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32 - 2, 4294967291];
    const ms = [1, 2, 3, 7, 1000, 16384, 2 ** 21 + 1, 2 ** 31 - 1, 4294967291, 2 ** 32 - 1];
    for (const x of xs) for (const m of ms) expect(mod32(x, m)).toBe(Number(BigInt(x) % BigInt(m)));
    let seed = 12345;
    for (let i = 0; i < 100_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const m = (seed % 5_000_000) + 1;
      const x = Math.imul(seed, 2654435761) >>> 0;
      if (mod32(x, m) !== x % m) throw new Error(`mod32(${x}, ${m})`);
    }
  });
});

describe('zipf guide table', () => {
  it('gives exactly the plain binary search rank for every u', async () => {
    const { zipfCdf, zipfGuide, zipfRank } = await import('../../../models/workloads/page-writes.ts');
    for (const [n, s] of [
      [1, 1.1],
      [7, 0.6],
      [1000, 1.1],
      [16384, 1.5],
      [65536, 0.8],
    ] as const) {
      const cdf = zipfCdf(n, s);
      const guide = zipfGuide(cdf);
      const plain = (u: number) => {
        let lo = 0;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cdf[mid]! > u) hi = mid;
          else lo = mid + 1;
        }
        return lo;
      };
      const guided = (u: number) => zipfRank(cdf, guide, u);
      let x = 7;
      const us = [
        0,
        1 - 2 ** -32,
        ...Array.from(cdf.slice(0, 50)),
        ...Array.from(cdf.slice(0, 50), (c) => c - 1e-12),
      ];
      for (let i = 0; i < 20_000; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        us.push(x / 4294967296);
      }
      for (const u of us)
        if (u >= 0 && u < 1 && guided(u) !== plain(u)) throw new Error(`n=${n} s=${s} u=${u}`);
      expect(guide[0]).toBe(0);
    }
  });
});
