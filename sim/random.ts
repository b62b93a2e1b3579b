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

/**
 * xor128 stepped inline: seedrandom seeds it (its own warm-up included) and hands over its state, then
 * this class continues the same recurrence without seedrandom's closures, which matters on hot paths
 * (one step per guest page write).
 */
export class Xor128 implements Rng {
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(int32Seed: number) {
    // An integer seed sets xor128's x word directly (the typings only admit strings; the code takes both).
    const g = seedrandom.xor128(int32Seed as unknown as string, { state: true });
    const st = g.state() as { x: number; y: number; z: number; w: number };
    this.x = st.x | 0;
    this.y = st.y | 0;
    this.z = st.z | 0;
    this.w = st.w | 0;
  }

  uint32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w ^= (this.w >>> 19) ^ t ^ (t >>> 8);
    return this.w >>> 0;
  }

  float(): number {
    return this.uint32() / 4294967296;
  }
}

/** A seeded stream: xor128 seeded with `streamSeed(seed, stream)`. */
export function createRng(seed: number, stream: number): Xor128 {
  return new Xor128(streamSeed(seed, stream));
}

/** A stateless uniform draw in [0, 1) for item `i` under key `key` (for per-page properties). */
export function hashUnit(key: number, i: number): number {
  return fmix32((key ^ Math.imul(i >>> 0, 0x9e3779b1)) >>> 0) / 4294967296;
}
