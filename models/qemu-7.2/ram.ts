/**
 * RAM live save of 7.2 (migration/ram.c; qemu-spec.md §3.6): the migration bitmap starts all ones and is
 * refreshed from KVM's dirty log only at setup, when the pending estimate falls below the threshold, and at
 * completion; a scan cursor survives between calls; a page goes out as a ZERO record (all-zero pages only:
 * the content model's uniform pages), through multifd, as an XBZRLE delta (from the second lap), or as a
 * normal page. Auto-converge is evaluated at most once a second, inside migration_bitmap_sync.
 *
 * Functions on the per-page path return the thread's clock and leave counts in RAMState fields, so the
 * inner loop allocates nothing.
 */
import { Bitmap } from '../../sim/bitmap.ts';
import { LEVEL } from '../../sim/span-recorder.ts';
import { MS, type Ns } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import { blkMigBulkActive } from './block.ts';
import {
  BE64,
  DEFAULT_MIGRATE_CPU_THROTTLE_INCREMENT,
  DEFAULT_MIGRATE_CPU_THROTTLE_INITIAL,
  DEFAULT_MIGRATE_MAX_CPU_THROTTLE,
  DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD,
  IDSTR_BYTES,
  IO_BUF_SIZE,
  MAX_IOV_SIZE,
  MAX_WAIT,
  MAX_WAIT_CHECK_PAGES,
  NORMAL_PAGE_BYTES,
  PAGE_HEADER_BYTES,
  TARGET_PAGE_SIZE,
  THROTTLE_PERIOD_MS,
  XBZRLE_PAGE_OVERHEAD,
  ZERO_PAGE_BYTES,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { cpuThrottleSet } from './cpu-throttle.ts';
import { multifdQueuePage, multifdSendSyncMain } from './multifd.ts';
import { SECTION } from './qemu-file.ts';
import { xbzrleEncodedLen } from './xbzrle.ts';

/** RAMState and ram_counters. */
export class RAMState {
  /** The migration bitmap (RAMBlock.bmap of the one block). */
  readonly bitmap: Bitmap;
  /** `migration_dirty_pages`. */
  migrationDirtyPages = 0;
  /** `last_page`: where the next scan starts. */
  lastPage = 0;
  /** Whether the block's idstr went out since the stream (re)started (`last_sent_block`). */
  lastSentBlock = false;
  xbzrleEnabled = false;
  lastStage = false;
  /** ram_counters.dirty_sync_count. */
  dirtySyncCount = 0;
  timeLastBitmapSyncMs: number | null = null;
  numDirtyPagesPeriod = 0;
  bytesXferPrev = 0;
  dirtyRateHighCnt = 0;
  /** Pages/s measured over the last closed period (`dirty_pages_rate`). */
  dirtyPagesRate = 0;
  /** ram_counters.transferred: RAM bytes on every channel. */
  transferred = 0;
  /** Pages the last ram_find_and_save_block sent (0: a lap found nothing dirty). */
  pages = 0;
  /** What the last ram_save_iterate returned. */
  iterateDone = 0;
  pagesNormal = 0;
  pagesZero = 0;
  pagesXbzrle = 0;
  /** Open iteration record: where its byte and page counts started. */
  passBytes0 = 0;
  passPages = 0;
  /** The content model's uniform-page mask of bitmap word `umWord` (computed once per 32 pages). */
  umWord = -1;
  umBits = 0;

  constructor(readonly total: number) {
    this.bitmap = new Bitmap(total);
  }
}

/** Wire bytes that count towards an iteration record (RAM and block sections, all channels). */
function passBytes(ctx: MigrationContext): number {
  return ctx.file.bySection[SECTION.ram]! + ctx.file.bySection[SECTION.block]!;
}

/** save_page_header's size: the be64, plus len + idstr when the block changed (no RAM_SAVE_FLAG_CONTINUE). */
function savePageHeader(ctx: MigrationContext): number {
  const rs = ctx.ram;
  if (rs.lastSentBlock) return PAGE_HEADER_BYTES;
  rs.lastSentBlock = true;
  return PAGE_HEADER_BYTES + IDSTR_BYTES;
}

/** Close the open iteration record at `t` (the start of the next sync, or the end of the migration). */
export function closePass(ctx: MigrationContext, t: Ns): void {
  const rs = ctx.ram;
  const rec = ctx.iterations[ctx.iterations.length - 1];
  if (rec) {
    rec.endMs = t / MS;
    rec.bytes = passBytes(ctx) - rs.passBytes0;
    rec.pagesSent = rs.passPages;
    rec.remainingPages = rs.migrationDirtyPages;
  }
  if (ctx.passSpan) {
    ctx.rec.end(ctx.passSpan, { [ATTR.bytes]: rec ? rec.bytes : 0, [ATTR.pagesSent]: rs.passPages }, t);
    ctx.passSpan = null;
  }
}

/** Open an iteration record for sync number `dirtySyncCount`, ending at `t`. */
function openPass(ctx: MigrationContext, start: Ns, t: Ns, found: number): void {
  const rs = ctx.ram;
  const bw = ctx.s.bandwidth;
  ctx.iterations.push({
    index: rs.dirtySyncCount,
    startMs: start / MS,
    endMs: t / MS,
    bytes: 0,
    pagesSent: 0,
    dirtyPagesAtSync: found,
    remainingPages: rs.migrationDirtyPages,
    // The window bandwidth whose threshold this sync's pending is compared with (none before the first window).
    bandwidthEstimate: bw === null ? null : bw * 1000,
  });
  rs.passBytes0 = passBytes(ctx);
  rs.passPages = 0;
  ctx.passSpan = ctx.rec.start(
    SPAN.pass,
    LEVEL.iteration,
    ctx.migrationSpan,
    { [ATTR.pass]: rs.dirtySyncCount, [ATTR.dirtyPages]: found, [ATTR.thresholdBytes]: ctx.s.thresholdSize },
    t,
  );
}

/**
 * migration_bitmap_sync (ram.c:1171): pull KVM's dirty log into the migration bitmap, and once a period of
 * more than a second has passed, let auto-converge judge it. `initial` marks the setup sync, whose bitmap
 * was set all ones just before. Returns the time after.
 * Differs from C: KVM's log is cleared at the sync here, not lazily per 1 GiB chunk as pages are sent
 * (clear-bitmap-shift, open question 5); a page written between the sync and its send is therefore sent
 * once more in the next round, where QEMU would not see that write again.
 */
export function migrationBitmapSync(ctx: MigrationContext, t: Ns, initial = false): Ns {
  const rs = ctx.ram;
  const start = t;
  rs.dirtySyncCount++;
  if (rs.timeLastBitmapSyncMs === null) rs.timeLastBitmapSyncMs = Math.floor(t / MS);
  closePass(ctx, start);
  ctx.mem.advanceTo(t);
  // The sync walks every page in the log (at setup: all of RAM, whose bitmap was just set): under TCG
  // this costs ~5 µs a page on top of a fixed part (trace events of the lab; models/validate).
  const logged = initial ? rs.total : ctx.mem.logged;
  const added = ctx.mem.syncDirtyLog(rs.bitmap);
  rs.migrationDirtyPages += added;
  rs.numDirtyPagesPeriod += added;
  t += ctx.costs.bitmapSyncNs + Math.round(logged * ctx.costs.bitmapSyncNsPerDirtyPage);
  ctx.rec.span(SPAN.dirtySync, LEVEL.iteration, ctx.migrationSpan, start, t, {
    [ATTR.pass]: rs.dirtySyncCount,
    [ATTR.dirtyPages]: added,
  });
  const endMs = Math.floor(t / MS);
  if (endMs > rs.timeLastBitmapSyncMs + THROTTLE_PERIOD_MS) {
    migrationTriggerThrottle(ctx, t);
    rs.dirtyPagesRate = (rs.numDirtyPagesPeriod * 1000) / (endMs - rs.timeLastBitmapSyncMs);
    rs.timeLastBitmapSyncMs = endMs;
    rs.numDirtyPagesPeriod = 0;
    rs.bytesXferPrev = rs.transferred;
  }
  openPass(ctx, start, t, initial ? rs.total : added);
  return t;
}

/** migration_trigger_throttle (ram.c): two periods dirtying > 50 % of what was sent → throttle up. */
function migrationTriggerThrottle(ctx: MigrationContext, t: Ns): void {
  const rs = ctx.ram;
  const bytesXferPeriod = rs.transferred - rs.bytesXferPrev;
  const bytesDirtyPeriod = rs.numDirtyPagesPeriod * TARGET_PAGE_SIZE;
  const bytesDirtyThreshold = (bytesXferPeriod * DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD) / 100;
  if (ctx.caps.autoConverge && !blkMigBulkActive(ctx)) {
    // The counter is never reset on a good period, so the two hits need not be consecutive.
    if (bytesDirtyPeriod > bytesDirtyThreshold && ++rs.dirtyRateHighCnt >= 2) {
      rs.dirtyRateHighCnt = 0;
      migThrottleGuestDown(ctx, t);
    }
  }
}

/** mig_throttle_guest_down (ram.c), without cpu-throttle-tailslow (its default). */
function migThrottleGuestDown(ctx: MigrationContext, t: Ns): void {
  const pct =
    ctx.throttlePct === 0
      ? DEFAULT_MIGRATE_CPU_THROTTLE_INITIAL
      : Math.min(ctx.throttlePct + DEFAULT_MIGRATE_CPU_THROTTLE_INCREMENT, DEFAULT_MIGRATE_MAX_CPU_THROTTLE);
  cpuThrottleSet(ctx, pct, t);
  ctx.counters.throttleSteps++;
  ctx.counters.throttleHistory.push(pct);
  ctx.rec.event(ctx.migrationSpan, EVENT.throttleStep, { [ATTR.throttlePercent]: pct }, t);
}

/**
 * ram_save_setup (ram.c:3209): bitmap all ones, dirty logging on, the first sync, then the MEM_SIZE record,
 * the block list, a multifd sync and EOS.
 */
export function ramSaveSetup(ctx: MigrationContext, t: Ns): Ns {
  const rs = ctx.ram;
  rs.bitmap.fill(true);
  rs.migrationDirtyPages = rs.total;
  ctx.mem.advanceTo(t);
  ctx.mem.setLogging(true); // memory_global_dirty_log_start
  t = migrationBitmapSync(ctx, t, true);
  const file = ctx.file;
  const bytes = BE64 + IDSTR_BYTES + BE64; // be64(total | MEM_SIZE); len + idstr + be64 used_length
  t = file.put(bytes, SECTION.ram, t);
  rs.transferred += bytes;
  t = multifdSendSyncMain(ctx, t);
  t = file.put(BE64, SECTION.ram, t); // EOS
  rs.transferred += BE64;
  return file.fflush(t);
}

/**
 * ram_save_pending (ram.c:3444): only when the dirty pages, as bytes, are already below `maxSize` (the
 * threshold) is the bitmap synced for a fresh count. Returns the time after; ramPendingBytes then gives
 * the estimate.
 */
export function ramSavePending(ctx: MigrationContext, maxSize: number, t: Ns): Ns {
  const rs = ctx.ram;
  if (rs.migrationDirtyPages * TARGET_PAGE_SIZE < maxSize) t = migrationBitmapSync(ctx, t);
  return t;
}

/** The RAM share of the pending estimate, bytes. */
export function ramPendingBytes(ctx: MigrationContext): number {
  return ctx.ram.migrationDirtyPages * TARGET_PAGE_SIZE;
}

/** The clock after the last saveXbzrlePage (a second return value without allocating). */
let xbzrleT: Ns = 0;

/**
 * save_xbzrle_page (ram.c): -1 = send a normal page (cache miss, inserted when possible; or overflow),
 * 0 = unchanged (nothing sent), 1 = the delta record went out. The time after is left in `xbzrleT`.
 */
function saveXbzrlePage(ctx: MigrationContext, p: number, t: Ns): number {
  const x = ctx.xbzrle!;
  const rs = ctx.ram;
  const version = ctx.mem.version![p]!;
  xbzrleT = t;
  if (!x.cacheIsCached(p, rs.dirtySyncCount)) {
    x.cacheMiss++;
    if (!rs.lastStage) x.cacheInsert(p, version, rs.dirtySyncCount);
    return -1;
  }
  x.pages++;
  const i = x.pos(p);
  const len = xbzrleEncodedLen(version - x.ver[i]!);
  // The cache follows what was sent, except for a skipped page and in the last stage.
  if (!rs.lastStage && len !== 0) x.ver[i] = version;
  if (len === 0) {
    x.skipped++;
    x.bytesSaved += NORMAL_PAGE_BYTES;
    return 0;
  }
  if (len === -1) {
    x.overflow++;
    x.bytes += TARGET_PAGE_SIZE;
    return -1;
  }
  const bytes = savePageHeader(ctx) + XBZRLE_PAGE_OVERHEAD - PAGE_HEADER_BYTES + len;
  xbzrleT = ctx.file.put(bytes, SECTION.ram, t);
  x.bytes += bytes - PAGE_HEADER_BYTES;
  x.bytesSaved += NORMAL_PAGE_BYTES - bytes;
  rs.transferred += bytes;
  rs.pagesXbzrle++;
  return 1;
}

/**
 * ram_save_target_page (ram.c:2280) for page `p` at `t`: ZERO record, multifd, XBZRLE, or a normal page,
 * in that order of preference. Sets `ctx.ram.pages`; returns the time after the page's host cost.
 */
function ramSaveTargetPage(ctx: MigrationContext, p: number, t: Ns): Ns {
  const mem = ctx.mem;
  const rs = ctx.ram;
  // The vCPUs ran until now: the page is read as it is at `t`.
  if (mem.schedule.nextNs <= t) mem.advanceTo(t);
  const dv = ctx.dest.pageVersion;
  if (dv) dv[p] = mem.version![p]!;
  const tEnd = t + ctx.costs.pageCopyNs;
  const file = ctx.file;
  // mem.isUniform(p), with the content model's mask computed once per word of 32 pages.
  const w = p >>> 5;
  if (w !== rs.umWord) {
    rs.umWord = w;
    rs.umBits = mem.content.uniformMask(w);
  }
  if (((rs.umBits & ~mem.written.words[w]!) >>> (p & 31)) & 1) {
    // save_zero_page: buffer_is_zero → header | ZERO + one byte 0.
    const bytes = savePageHeader(ctx) + 1;
    t = file.put(bytes, SECTION.ram, t);
    rs.transferred += bytes;
    rs.pagesZero++;
    rs.pages = 1;
    // xbzrle_cache_zero_page: a later small change then encodes against zeros.
    if (rs.xbzrleEnabled) ctx.xbzrle!.cacheInsert(p, mem.version![p]!, rs.dirtySyncCount);
  } else if (ctx.multifd) {
    t = multifdQueuePage(ctx, t);
    rs.pagesNormal++;
    rs.pages = 1;
  } else {
    // ram_save_page
    let r = -1;
    if (rs.xbzrleEnabled) {
      r = saveXbzrlePage(ctx, p, t);
      t = xbzrleT;
    }
    if (r === -1) {
      // save_normal_page: header in the buffer, the page itself as an iovec of guest RAM (copied from
      // the cache when XBZRLE is on, which changes only the iovec count).
      t = file.put(savePageHeader(ctx), SECTION.ram, t);
      t = rs.xbzrleEnabled
        ? file.put(TARGET_PAGE_SIZE, SECTION.ram, t)
        : file.putAsync(TARGET_PAGE_SIZE, SECTION.ram, t);
      rs.transferred += NORMAL_PAGE_BYTES;
      rs.pagesNormal++;
      r = 1;
    }
    rs.pages = r;
  }
  if (rs.pages > 0) rs.passPages++;
  return t > tEnd ? t : tEnd;
}

/**
 * ram_find_and_save_block (ram.c:2537) with find_dirty_block and ram_save_host_page (4 KiB host pages):
 * from the cursor, find the next dirty page and send it, passing over pages that sent nothing (unchanged
 * XBZRLE pages); wrapping past the end marks a complete round and turns XBZRLE on. Gives up after one lap
 * with nothing sent (`ctx.ram.pages` = 0). Returns the time after.
 */
export function ramFindAndSaveBlock(ctx: MigrationContext, t: Ns): Ns {
  const rs = ctx.ram;
  const bm = rs.bitmap;
  const size = rs.total;
  let page = rs.lastPage;
  let completeRound = false;
  rs.pages = 0;
  for (;;) {
    let p = page < size ? bm.nextSet(page) : -1;
    if (p < 0) p = size;
    if (completeRound && p >= rs.lastPage) {
      rs.lastPage = p; // once around RAM, nothing found
      return t;
    }
    if (p >= size) {
      page = 0;
      completeRound = true;
      if (ctx.caps.xbzrle && !ctx.multifd) rs.xbzrleEnabled = true; // "after the first round"
      continue;
    }
    // migration_bitmap_clear_dirty
    bm.clear(p);
    rs.migrationDirtyPages--;
    t = ramSaveTargetPage(ctx, p, t);
    page = p + 1;
    if (rs.pages !== 0) break;
  }
  rs.lastPage = page;
  return t;
}

/**
 * The send loops of ram_save_iterate (`while (!qemu_file_rate_limit(f))`, MAX_WAIT every 64 pages) and of
 * ram_save_complete (until a lap finds nothing), for the common case of ZERO and normal pages only (no
 * XBZRLE, no multifd), with ram_find_and_save_block, ram_save_target_page and the QEMUFile's buffer
 * inlined because they run once per page. Same order and effects as calling ramFindAndSaveBlock per page,
 * except that the pages of one bitmap word are taken together up to the next guest write that falls due
 * (when the budget and MAX_WAIT are not reached on the way), the writev then following the last page
 * taken instead of the 32nd normal page. Counters are added up in locals and handed to the file and RAMState when the
 * buffer is written and at the end. `t0` is where MAX_WAIT counts from (null: no time limit, no rate
 * limit). Sets `ctx.ram.iterateDone` when a lap found nothing; returns the time after.
 */
function ramSendLoopPlain(ctx: MigrationContext, t: Ns, t0: Ns | null): Ns {
  const rs = ctx.ram;
  const file = ctx.file;
  const mem = ctx.mem;
  const sched = mem.schedule;
  const words = rs.bitmap.words;
  const nWords = words.length;
  const size = rs.total;
  const written = mem.written.words;
  const version = mem.version;
  const dest = ctx.dest.pageVersion;
  const content = mem.content;
  const pageNs = ctx.costs.pageCopyNs;
  // Page k after `tBase` is read at tBase + k·pageNs; the time is computed only where it is needed.
  let tBase = t;
  let k = 0;
  let dueK = pagesUntil(sched.nextNs, tBase, pageNs);
  // MAX_WAIT: more than 50 whole ms since t0, i.e. at least 51 ms.
  const waitUntil = t0 === null ? Number.POSITIVE_INFINITY : t0 + (MAX_WAIT + 1) * MS;
  // qemu_file_rate_limit: rate_limit_used + bytes put here > rate_limit_max.
  let budget = t0 === null ? Number.POSITIVE_INFINITY : file.rateLimitMax - file.rateLimitUsed;
  let bufIndex = file.bufIndex;
  let iovcnt = file.iovcnt;
  let idstr = rs.lastSentBlock ? 0 : IDSTR_BYTES;
  let acc = 0; // bytes put since the last hand-over to the file
  let sent = 0;
  let zero = 0;
  let i = 0;
  let anchor = rs.lastPage; // where the current ram_find_and_save_block call started
  let wrapped = false; // complete_round of that call
  const pos = Math.min(anchor, size);
  let w = pos >>> 5;
  let bits = w < nWords ? words[w]! & (-1 << (pos & 31)) : 0;
  let um = w < nWords && (bits & ~written[w]!) !== 0 ? content.uniformMask(w) : 0;
  rs.iterateDone = 0;
  for (;;) {
    if (acc > budget) break;
    // find_dirty_block: the next set bit, wrapping once past the end.
    while (bits === 0) {
      if (++w >= nWords) {
        if (wrapped) break;
        wrapped = true;
        w = 0;
      }
      bits = words[w]!;
      // The content model's mask matters only for pages the guest never wrote.
      if (bits !== 0) um = (bits & ~written[w]!) !== 0 ? content.uniformMask(w) : 0;
    }
    if (bits === 0) {
      rs.lastPage = size; // once around RAM with nothing found
      rs.iterateDone = 1;
      break;
    }
    if (!wrapped) {
      // The word's dirty pages at once, up to the next guest write that falls due among them, when the
      // budget and MAX_WAIT are not reached on the way. The writev, if due, follows the last page taken.
      if (k >= dueK) {
        mem.advanceTo(tBase + k * pageNs); // the vCPUs ran until now
        dueK = pagesUntil(sched.nextNs, tBase, pageNs);
      }
      let n = popcount32(bits);
      let take = bits;
      if (k + n > dueK) {
        n = dueK - k; // ≥ 1: the pages read before that write
        let rest = bits;
        for (let j = 0; j < n; j++) rest &= rest - 1;
        take = bits ^ rest;
      }
      if (tBase + (k + n) * pageNs < waitUntil) {
        const nz = popcount32(um & ~written[w]! & take);
        const bytes = (n - nz) * NORMAL_PAGE_BYTES + nz * ZERO_PAGE_BYTES + idstr;
        if (acc + bytes <= budget) {
          if (dest !== null)
            for (let b = take; b !== 0; b &= b - 1) {
              const p = (w << 5) + (31 - Math.clz32(b & -b));
              dest[p] = version![p]!;
            }
          words[w]! ^= take; // migration_bitmap_clear_dirty
          bits ^= take;
          anchor = (w << 5) + (32 - Math.clz32(take));
          acc += bytes;
          bufIndex += (n - nz) * PAGE_HEADER_BYTES + nz * ZERO_PAGE_BYTES + idstr;
          iovcnt += 2 * (n - nz);
          idstr = 0;
          zero += nz;
          sent += n;
          k += n;
          i += n;
          if (bufIndex >= IO_BUF_SIZE || iovcnt >= MAX_IOV_SIZE) {
            budget -= acc;
            commitPlain(ctx, acc);
            acc = 0;
            bufIndex = 0;
            iovcnt = 0;
            tBase = file.fflush(tBase + k * pageNs);
            k = 0;
            dueK = pagesUntil(sched.nextNs, tBase, pageNs);
          }
          continue;
        }
      }
    }
    const bit = bits & -bits;
    const p = (w << 5) + (31 - Math.clz32(bit));
    if (wrapped && p >= anchor) {
      rs.lastPage = size; // once around RAM with nothing found
      rs.iterateDone = 1;
      break;
    }
    bits ^= bit;
    words[w]! ^= bit; // migration_bitmap_clear_dirty
    if (k >= dueK) {
      // The vCPUs ran until now: the page is read as it is at this instant.
      mem.advanceTo(tBase + k * pageNs);
      dueK = pagesUntil(sched.nextNs, tBase, pageNs);
    }
    if (dest !== null) dest[p] = version![p]!;
    if ((um & ~written[w]! & bit) !== 0) {
      // ZERO page: header + 1 byte, copied into the buffer.
      acc += ZERO_PAGE_BYTES + idstr;
      bufIndex += ZERO_PAGE_BYTES + idstr;
      zero++;
    } else {
      // Normal page: header in the buffer, the page as its own iovec.
      acc += NORMAL_PAGE_BYTES + idstr;
      bufIndex += PAGE_HEADER_BYTES + idstr;
      iovcnt += 2;
    }
    idstr = 0;
    k++;
    sent++;
    anchor = p + 1;
    wrapped = false;
    if (bufIndex >= IO_BUF_SIZE || iovcnt >= MAX_IOV_SIZE) {
      budget -= acc;
      commitPlain(ctx, acc);
      acc = 0;
      bufIndex = 0;
      iovcnt = 0;
      tBase = file.fflush(tBase + k * pageNs);
      k = 0;
      dueK = pagesUntil(sched.nextNs, tBase, pageNs);
    }
    if ((i & (MAX_WAIT_CHECK_PAGES - 1)) === 0 && tBase + k * pageNs >= waitUntil) {
      ctx.counters.bigWaits++;
      break;
    }
    i++;
  }
  if (rs.iterateDone === 0) rs.lastPage = anchor;
  if (sent > 0) rs.lastSentBlock = true;
  commitPlain(ctx, acc);
  file.bufIndex = bufIndex;
  file.iovcnt = iovcnt;
  rs.migrationDirtyPages -= sent;
  rs.pagesZero += zero;
  rs.pagesNormal += sent - zero;
  rs.passPages += sent;
  return tBase + k * pageNs;
}

/** Set bits in a 32-bit word. */
function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) >>> 0;
}

/** How many pages after `tBase` (at pageNs each) the next guest write falls due. */
function pagesUntil(nextNs: Ns, tBase: Ns, pageNs: Ns): number {
  if (nextNs <= tBase) return 0;
  if (pageNs <= 0 || !Number.isFinite(nextNs)) return Number.POSITIVE_INFINITY;
  return Math.ceil((nextNs - tBase) / pageNs);
}

/** Hand `bytes` put by the plain send loop to the file's and RAMState's counters. */
function commitPlain(ctx: MigrationContext, bytes: number): void {
  const file = ctx.file;
  file.total += bytes;
  file.bySection[SECTION.ram]! += bytes;
  file.rateLimitUsed += bytes;
  file.staged += bytes;
  ctx.ram.transferred += bytes;
}

/**
 * ram_save_iterate (ram.c:3267): nothing but EOS while block migration's bulk phase runs; else send until
 * the file is rate limited, a lap finds nothing (done), or more than MAX_WAIT ms passed (checked every 64
 * pages); then a multifd sync, EOS and a flush. Sets `ctx.ram.iterateDone`; returns the time after.
 */
export function ramSaveIterate(ctx: MigrationContext, t: Ns): Ns {
  const rs = ctx.ram;
  const file = ctx.file;
  rs.iterateDone = 0;
  if (blkMigBulkActive(ctx)) {
    t = file.put(BE64, SECTION.ram, t);
    rs.transferred += BE64;
    return t;
  }
  const t0 = t;
  if (!ctx.caps.xbzrle && !ctx.multifd) {
    t = ramSendLoopPlain(ctx, t, t0);
  } else {
    let i = 0;
    while (!file.rateLimit()) {
      t = ramFindAndSaveBlock(ctx, t);
      if (rs.pages === 0) {
        rs.iterateDone = 1;
        break;
      }
      if ((i & (MAX_WAIT_CHECK_PAGES - 1)) === 0 && Math.floor((t - t0) / MS) > MAX_WAIT) {
        ctx.counters.bigWaits++;
        break;
      }
      i++;
    }
  }
  t = multifdSendSyncMain(ctx, t);
  t = file.put(BE64, SECTION.ram, t); // EOS
  rs.transferred += BE64;
  return file.fflush(t);
}

/**
 * ram_save_complete (ram.c), with the VM stopped: one more sync, then every dirty page regardless of the
 * rate limit, a multifd sync, EOS. Dirty logging stops here (ram_save_cleanup follows in QEMU).
 */
export function ramSaveComplete(ctx: MigrationContext, t: Ns): Ns {
  const rs = ctx.ram;
  rs.lastStage = true;
  t = migrationBitmapSync(ctx, t);
  if (!ctx.caps.xbzrle && !ctx.multifd) {
    t = ramSendLoopPlain(ctx, t, null);
  } else {
    for (;;) {
      t = ramFindAndSaveBlock(ctx, t);
      if (rs.pages === 0) break;
    }
  }
  t = multifdSendSyncMain(ctx, t);
  t = ctx.file.put(BE64, SECTION.ram, t);
  rs.transferred += BE64;
  t = ctx.file.fflush(t);
  ctx.mem.setLogging(false);
  return t;
}

/** ram_save_cleanup on a failed or cancelled migration: dirty logging off. */
export function ramSaveCleanup(ctx: MigrationContext): void {
  ctx.mem.setLogging(false);
}
