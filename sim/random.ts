/**
 * Seeded randomness. Every random choice in a simulation comes from a stream derived from the scenario
 * seed, so runs are reproducible, and streams are independent so adding one does not shift the others.
 * The generator is seedrandom's xor128, chosen because it is a few lines of 32-bit integer code that the
 * guest workload program (C) implements bit for bit.
 */
import seedrandom from 'seedrandom';

/** A stream of pseudo-random numbers. */
export interface Rng {
  /** Next 32-bit unsigned integer. */
  uint32(): number;
  /** Next float in [0, 1) with 32 bits of resolution. */
  float(): number;
}

/** The murmur3 32-bit finalizer: a cheap, well-mixing integer hash. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The int32 seed of stream `stream` of scenario seed `seed`; never 0 (xor128 would stay at 0 forever). */
export function streamSeed(seed: number, stream: number): number {
  const h = fmix32((seed >>> 0) ^ Math.imul((stream + 1) >>> 0, 0x9e3779b1));
  return h | 0 || 1;
}

/** A seeded stream: xor128 seeded with `streamSeed(seed, stream)`. */
export function createRng(seed: number, stream: number): Rng {
  // An integer seed sets xor128's x word directly (the typings only admit strings; the code takes both).
  const g = seedrandom.xor128(streamSeed(seed, stream) as unknown as string);
  const next = g.int32;
  return {
    uint32: () => next() >>> 0,
    float: () => (next() >>> 0) / 4294967296,
  };
}

/** A stateless uniform draw in [0, 1) for item `i` under key `key` (for per-page properties). */
export function hashUnit(key: number, i: number): number {
  return fmix32((key ^ Math.imul(i >>> 0, 0x9e3779b1)) >>> 0) / 4294967296;
}
