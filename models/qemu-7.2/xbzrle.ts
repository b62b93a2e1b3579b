/**
 * XBZRLE of 7.2 (migration/page_cache.c, migration/xbzrle.c; qemu-spec.md §3.6): a direct-mapped cache of
 * page copies keyed by RAM address, aged in dirty-sync generations, and the size of the delta encoding of a
 * page against its cached copy. Only sizes are modelled: the cache holds, per slot, which page it caches,
 * its age, and the page's version (write count) when it was cached.
 *
 * Encoding-size model. The guest workload writes one 8-byte word per write, so a page written w times since
 * it was cached differs from the copy in the words those writes hit. Taking the positions as independent and
 * uniform over the 512 words of a page (the brief's model; see the note below):
 *   k    = 512 × (1 − (1 − 1/512)^w)          expected distinct words changed
 *   runs = max(1, k × (1 − k/512))             expected maximal runs of adjacent changed words
 *   len  = runs × (uleb(zrun) + uleb(nzrun)) + 8k,  zrun = (4096 − 8k)/runs, nzrun = 8k/runs
 * which is ≈ w × (8 + 3) bytes for small w (a 2-byte ULEB zero run and a 1-byte ULEB non-zero run per
 * word; xbzrle_encode_buffer emits no trailing zero run). Above one page the encoder gives up (overflow).
 * NOTE: the lab's dirtier (trace/lab/guest/dirtier.c) writes word 0 of the page every time, for which the
 * real encoding is one short run (≤ 10 bytes) whatever w is; this model overstates such pages.
 */
import { CACHED_PAGE_LIFETIME, TARGET_PAGE_SIZE } from './constants.ts';

const WORDS = TARGET_PAGE_SIZE / 8;
/** Writes beyond which a page always overflows (the table below ends there). */
const W_MAX = 4096;

function uleb(x: number): number {
  return x < 128 ? 1 : x < 16384 ? 2 : 3;
}

/** Encoded length for w = 0..W_MAX writes since caching: 0 = unchanged, -1 = overflow. */
const ENCODED_LEN: Int32Array = (() => {
  const out = new Int32Array(W_MAX + 1);
  for (let w = 1; w <= W_MAX; w++) {
    const k = WORDS * (1 - (1 - 1 / WORDS) ** w);
    const runs = Math.max(1, k * (1 - k / WORDS));
    const len = Math.round(runs * (uleb((TARGET_PAGE_SIZE - 8 * k) / runs) + uleb((8 * k) / runs)) + 8 * k);
    out[w] = len > TARGET_PAGE_SIZE ? -1 : len;
  }
  return out;
})();

/** xbzrle_encode_buffer's result size for a page written `w` times since it was cached (0, -1 or bytes). */
export function xbzrleEncodedLen(w: number): number {
  return w > W_MAX ? -1 : ENCODED_LEN[w]!;
}

/** The page cache (PageCache) and xbzrle_counters. */
export class XbzrleState {
  /** Number of slots: cache size / 4 KiB rounded down to a power of two (cache_init). */
  readonly slots: number;
  private readonly mask: number;
  /** Page cached in each slot, or -1 (it_addr). */
  readonly addr: Int32Array;
  /** it_age: the dirty_sync_count when the slot was filled or last hit. */
  readonly age: Uint32Array;
  /** The cached copy's version (page write count). */
  readonly ver: Uint32Array;
  cacheMiss = 0;
  /** xbzrle_counters.pages: cache hits, whatever the encoding gave. */
  pages = 0;
  overflow = 0;
  /** Hits with an unchanged page: nothing sent. */
  skipped = 0;
  /** Encoded bytes sent (xbzrle_counters.bytes, without the 8-byte headers). */
  bytes = 0;
  /** Bytes a normal page record would have cost minus what the hit cost. */
  bytesSaved = 0;

  constructor(cacheBytes: number) {
    let n = Math.max(1, Math.floor(cacheBytes / TARGET_PAGE_SIZE));
    n = 2 ** Math.floor(Math.log2(n)); // pow2floor
    this.slots = n;
    this.mask = n - 1;
    this.addr = new Int32Array(n).fill(-1);
    this.age = new Uint32Array(n);
    this.ver = new Uint32Array(n);
  }

  /** cache_get_cache_pos. */
  pos(page: number): number {
    return page & this.mask;
  }

  /** cache_is_cached: a hit refreshes the slot's age. */
  cacheIsCached(page: number, currentAge: number): boolean {
    const i = page & this.mask;
    if (this.addr[i] !== page) return false;
    this.age[i] = currentAge;
    return true;
  }

  /** cache_insert: refuses to evict another page younger than CACHED_PAGE_LIFETIME generations. */
  cacheInsert(page: number, version: number, currentAge: number): boolean {
    const i = page & this.mask;
    const a = this.addr[i]!;
    if (a !== -1 && a !== page && this.age[i]! + CACHED_PAGE_LIFETIME > currentAge) return false;
    this.addr[i] = page;
    this.age[i] = currentAge;
    this.ver[i] = version;
    return true;
  }
}
