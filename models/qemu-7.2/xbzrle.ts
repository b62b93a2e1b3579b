/**
 * XBZRLE of 7.2 (migration/page_cache.c, migration/xbzrle.c; qemu-spec.md §3.6): a direct-mapped cache of
 * page copies keyed by RAM address, aged in dirty-sync generations, and the size of the delta encoding of a
 * page against its cached copy. Only sizes are modelled: the cache holds, per slot, which page it caches,
 * its age, and the page's version (write count) when it was cached.
 *
 * Encoding-size model. The guest workload (models/workloads, and the lab's dirtier.c that implements it)
 * stores an 8-byte counter into word 0 of the page it writes, so however often a page was written since
 * it was cached, it differs from the copy in at most those 8 bytes: xbzrle_encode_buffer emits a zero run
 * of length 0 (1-byte ULEB), a non-zero run of at most 8 (1-byte ULEB) and the changed bytes, and no
 * trailing zero run: at most 10 bytes. Modelled as 10 bytes for any w >= 1 (a counter step changes fewer
 * bytes only when its high bytes stay equal; the model ignores that saving).
 */
import { CACHED_PAGE_LIFETIME, TARGET_PAGE_SIZE } from './constants.ts';

/** Encoded bytes of a page whose word 0 changed: ULEB(0) + ULEB(8) + 8 bytes. */
const WORD0_ENCODED_LEN = 1 + 1 + 8;

/** xbzrle_encode_buffer's result size for a page written `w` times since it was cached (0, -1 or bytes). */
export function xbzrleEncodedLen(w: number): number {
  return w <= 0 ? 0 : WORD0_ENCODED_LEN;
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
