import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { createRng, fmix32, streamSeed } from '../../sim/random.ts';

describe('seeded randomness', () => {
  it('is xor128 seeded with the stream seed (the contract the guest C program follows)', () => {
    // A plain re-implementation of xor128 with an integer seed: x = seed, 64 warm-up steps.
    let x = streamSeed(42, 1);
    let y = 0;
    let z = 0;
    let w = 0;
    const next = () => {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w ^= (w >>> 19) ^ t ^ (t >>> 8);
      return w >>> 0;
    };
    for (let i = 0; i < 64; i++) next();
    const rng = createRng(42, 1);
    for (let i = 0; i < 1000; i++) expect(rng.uint32()).toBe(next());
    const lib = seedrandom.xor128(streamSeed(42, 1) as unknown as string);
    expect(createRng(42, 1).uint32()).toBe(lib.int32() >>> 0);
  });

  it('streams of one seed differ, and stream seeds are never 0', () => {
    expect(createRng(1, 1).uint32()).not.toBe(createRng(1, 2).uint32());
    for (let s = 0; s < 1000; s++) expect(streamSeed(s, 0)).not.toBe(0);
  });

  it('fmix32 is a bijection-quality mixer (distinct outputs for distinct small inputs)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(10_000);
    expect(fmix32(0)).toBe(0);
  });

  it('floats are uniform enough', () => {
    const rng = createRng(9, 3);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += rng.float();
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });
});
