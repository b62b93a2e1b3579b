/**
 * The seeded sequence of guest page writes: the k-th write hits page `next()` of the guest and happens
 * k / rate seconds after the workload starts (an absolute schedule, so the long-run rate is exact).
 *
 * This definition is the contract with the guest program in trace/lab/guest (C), which reproduces it
 * bit for bit: xor128 seeded with streamSeed(seed, STREAM.pageWrites), then per write
 *   uniform:    page = base + (u32 % wss)
 *   sequential: page = base + (k % wss)
 *   zipf:       rank r = first index with cdf[r] > u32 / 2^32, cdf[r] = sum_{i<=r} (i+1)^-s / H; page = base + r
 * The working set sits at the top of guest RAM (base = pages - wss), where Linux's allocator hands out
 * fresh memory first.
 */
import { createRng, type Rng } from '../../sim/random.ts';
import type { WorkloadKind } from '../scenario.ts';
import { STREAM } from './streams.ts';

/** Page size of the guest (x86 TARGET_PAGE_SIZE). */
export const PAGE_SIZE = 4096;
/** Pages per MiB. */
export const PAGES_PER_MIB = 256;

/** What the write sequence needs to know. */
export interface PageWriteSpec {
  kind: WorkloadKind;
  /** Guest pages in total. */
  pages: number;
  /** Working-set pages. */
  wssPages: number;
  zipfS: number;
  seed: number;
  /**
   * Guest page of each working-set index (a measured layout, models/guest/layout.ts); without it the
   * working set is the top `wssPages` pages of RAM.
   */
  placement?: Int32Array | null;
}

/** The page index of each successive write. */
export interface PageWriteSequence {
  /** First page of the working set. */
  readonly base: number;
  next(): number;
  /** The next `n` pages into `out` (the same as n calls of next(), in one call). */
  fill(out: Int32Array, n: number): void;
}

/** Zipf CDF over `n` ranks with exponent `s`, summed in rank order (the C program sums the same way). */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += (i + 1) ** -s;
    cdf[i] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return cdf;
}

/**
 * The zipf CDF and guide of (n, s), kept for the last few (n, s) asked: a sweep simulates thousands of
 * runs with the same working set, and the CDF costs one pow() per rank. Pure, so sharing is safe.
 */
const zipfCache = new Map<string, { cdf: Float64Array; guide: Int32Array }>();
function zipfTables(n: number, s: number): { cdf: Float64Array; guide: Int32Array } {
  const key = `${n}/${s}`;
  let t = zipfCache.get(key);
  if (!t) {
    const cdf = zipfCdf(n, s);
    t = { cdf, guide: zipfGuide(cdf) };
    if (zipfCache.size >= 8) zipfCache.delete(zipfCache.keys().next().value!);
    zipfCache.set(key, t);
  }
  return t;
}

/** Buckets of the guide table that narrows each zipf search. */
const ZIPF_GUIDE = 4096;

/**
 * guide[b] = the first rank whose cdf exceeds b / ZIPF_GUIDE, so the rank of any u in bucket b lies in
 * [guide[b], guide[b + 1]]: the search below then gives exactly the plain binary search's answer (the
 * contract with the guest program) in a few steps, even for the heavy head of the distribution.
 */
export function zipfGuide(cdf: Float64Array): Int32Array {
  const guide = new Int32Array(ZIPF_GUIDE + 1);
  let r = 0;
  for (let b = 0; b <= ZIPF_GUIDE; b++) {
    while (r < cdf.length - 1 && !(cdf[r]! > b / ZIPF_GUIDE)) r++;
    guide[b] = r;
  }
  return guide;
}

/** The first rank r with cdf[r] > u. */
export function zipfRank(cdf: Float64Array, guide: Int32Array, u: number): number {
  const b = Math.floor(u * ZIPF_GUIDE);
  let lo = guide[b]!;
  let hi = guide[b + 1]!;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * `x % m` for a uint32 `x` (C's unsigned modulo). JS's `%` on values >= 2^31 falls back to a slow
 * floating-point remainder; a division with a one-step correction is exact and several times faster.
 */
export function mod32(x: number, m: number, inv: number = 1 / m): number {
  // x·(1/m) is within 2^-20 of x/m for x < 2^32, so the quotient is off by at most one: one correction.
  const r = x - Math.floor(x * inv) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}

/** The write sequence of a workload; `null` for an idle guest (it writes nothing). */
export function pageWriteSequence(spec: PageWriteSpec): PageWriteSequence | null {
  const seq = topOfRamSequence(spec);
  const place = spec.placement;
  if (!seq || !place) return seq;
  // The same indices, each moved to where the guest's allocator put that page of the buffer.
  const base = seq.base;
  return {
    base,
    next: () => place[seq.next() - base]!,
    fill: (out, n) => {
      seq.fill(out, n);
      for (let i = 0; i < n; i++) out[i] = place[out[i]! - base]!;
    },
  };
}

function topOfRamSequence(spec: PageWriteSpec): PageWriteSequence | null {
  const wss = Math.min(spec.wssPages, spec.pages);
  if (spec.kind === 'idle' || wss <= 0) return null;
  const base = spec.pages - wss;
  const rng: Rng = createRng(spec.seed, STREAM.pageWrites);
  switch (spec.kind) {
    case 'uniform': {
      const inv = 1 / wss;
      return {
        base,
        next: () => base + mod32(rng.uint32(), wss, inv),
        fill: (out, n) => {
          for (let i = 0; i < n; i++) out[i] = base + mod32(rng.uint32(), wss, inv);
        },
      };
    }
    case 'sequential': {
      let k = 0;
      const next = () => {
        const p = base + (k % wss);
        k++;
        return p;
      };
      return {
        base,
        next,
        fill: (out, n) => {
          for (let i = 0; i < n; i++) out[i] = next();
        },
      };
    }
    case 'zipf': {
      const { cdf, guide } = zipfTables(wss, spec.zipfS);
      return {
        base,
        next: () => base + zipfRank(cdf, guide, rng.uint32() / 4294967296),
        fill: (out, n) => {
          for (let i = 0; i < n; i++) out[i] = base + zipfRank(cdf, guide, rng.uint32() / 4294967296);
        },
      };
    }
    default:
      throw new Error(`workload kind ${spec.kind} has no page-write sequence`);
  }
}
