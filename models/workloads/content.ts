/**
 * The page-content model: which pages are uniform (one repeated byte; QEMU 0.12.3 sends them as 9 bytes,
 * 7.2 as ZERO pages). A page the workload has written is never uniform (the guest program writes a
 * counter into it). A never-written page is uniform with probability `uniformPageFraction` (to 1/1024),
 * decided by a stateless hash so no per-page array is needed. The decision is made 32 pages at a time:
 * a word's mask of uniform pages comes from K = 10 hashed 32-bit words combined so that each bit is set
 * with probability q / 2^K (from the lowest bit of q up: bit set → OR, clear → AND), which lets the send
 * loop test a page with one AND. With a measured layout (models/guest/layout.ts) the mask is the guest's
 * own zero pages instead.
 */
import { fmix32, streamSeed } from '../../sim/random.ts';
import { STREAM } from './streams.ts';

const K = 10;

/** Decides whether a never-written page is uniform. */
export class ContentModel {
  private readonly key: number;
  /** uniformPageFraction quantised to K bits. */
  private readonly q: number;

  /** Measured zero pages, one bit per page (replaces the draw when given). */
  private readonly zero: Uint32Array | null;

  constructor(seed: number, uniformPageFraction: number, zero: Uint32Array | null = null) {
    this.key = streamSeed(seed, STREAM.content) >>> 0;
    this.q = Math.round(uniformPageFraction * (1 << K));
    this.zero = zero;
  }

  /** Bit i set: never-written page 32·word + i holds one repeated byte. */
  uniformMask(word: number): number {
    if (this.zero) return (this.zero[word] ?? 0) >>> 0;
    const q = this.q;
    if (q <= 0) return 0;
    if (q >= 1 << K) return 0xffffffff;
    let m = 0;
    const base = Math.imul(word, K);
    for (let i = 0; i < K; i++) {
      const r = fmix32((this.key ^ Math.imul(base + i + 1, 0x9e3779b1)) >>> 0);
      m = (q >>> i) & 1 ? m | r : m & r;
    }
    return m >>> 0;
  }

  /** Whether never-written page `page` holds one repeated byte. */
  initiallyUniform(page: number): boolean {
    return ((this.uniformMask(page >>> 5) >>> (page & 31)) & 1) === 1;
  }
}
