/**
 * RAM live save of 0.12.3 (vl.c: ram_save_live, ram_save_block, ram_save_remaining; qemu-spec.md §2.5).
 * The dirty bitmap is synced from KVM at every call; a round-robin scan cursor survives between calls;
 * uniform pages cost 9 bytes on the wire and others 4104; the bandwidth estimate is taken over the send
 * loop's own time, and convergence is `remaining × 4096 / bwidth <= max_downtime`.
 */
import { Bitmap } from '../../sim/bitmap.ts';
import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import {
  RAM_SAVE_EOS_BYTES,
  RAM_SAVE_MEM_SIZE_BYTES,
  RAM_SAVE_NORMAL_PAGE_BYTES,
  RAM_SAVE_UNIFORM_PAGE_BYTES,
  TARGET_PAGE_SIZE,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { SECTION } from './qemu-file.ts';

/** RAM save state: the MIGRATION_DIRTY_FLAG bits of phys_ram_dirty, the cursor and the counters. */
export class RamState {
  readonly bitmap: Bitmap;
  /** ram_save_remaining(): pages with MIGRATION_DIRTY_FLAG set (kept as a count, not rescanned). */
  dirtyPages = 0;
  /** The static `current_addr` of ram_save_block, as a page index. */
  currentPage = 0;
  /** bytes_transferred: pages × 4096, whatever went on the wire. */
  bytesTransferred = 0;
  pagesNormal = 0;
  pagesUniform = 0;

  constructor(readonly pages: number) {
    this.bitmap = new Bitmap(pages);
  }
}

/** What a save handler returns: its verdict and the time it finished. */
export interface SaveResult {
  ret: number;
  t: Ns;
}

/** cpu_physical_sync_dirty_bitmap: pull KVM's dirty log into the bitmap at `t`; returns the end time. */
function syncDirtyBitmap(ctx: MigrationContext, t: Ns): { added: number; t: Ns } {
  ctx.mem.advanceTo(t);
  const added = ctx.mem.syncDirtyLog(ctx.ram.bitmap);
  ctx.ram.dirtyPages += added;
  return { added, t: t + ctx.costs.bitmapSyncNs };
}

/**
 * The send loop of ram_save_live: `while (!qemu_file_rate_limit(f)) ram_save_block(f)` (or, in stage 3,
 * `while (ram_save_block(f))` ignoring the limit), with ram_save_block (vl.c) inlined because it runs once
 * per page. ram_save_block finds the next dirty page from the cursor, at most one lap; qemu-kvm pulls
 * KVM's dirty log again whenever the scan stands at address 0; the cursor stays on the page it sent.
 * The rate limit can only change when the QEMUFile flushes, so it is re-read only then.
 * Returns the number of pages sent; the time advances by pageCopyNs per page.
 */
export function ramSaveBlocks(
  ctx: MigrationContext,
  t: Ns,
  ignoreRateLimit: boolean,
): { pages: number; t: Ns } {
  const ram = ctx.ram;
  const mem = ctx.mem;
  const file = ctx.file;
  if (!ignoreRateLimit && file.rateLimit()) return { pages: 0, t };
  const words = ram.bitmap.words;
  const nWords = words.length;
  const written = mem.written.words;
  const version = mem.version;
  const dest = ctx.dest.pageVersion;
  const content = mem.content;
  const pageNs = ctx.costs.pageCopyNs;
  const bf = ctx.bf;
  let room = file.room();
  let acc = 0; // bytes put since the last hand-over to the QEMUFile
  let normal = 0;
  let uniform = 0;
  // Page k of this loop is sent at t0 + k·pageNs; time is computed only where it is needed, so the
  // per-page work stays in small integers.
  const t0 = t;
  let k = 0;
  let writesDueAtK = pagesUntil(mem.schedule.nextNs, t0, pageNs);
  // The scan walks word by word. `anchor` is where the current ram_save_block call started (the last
  // page sent): coming back to it after passing address 0 with nothing found ends the loop.
  let anchor = ram.currentPage;
  if (anchor === 0) lapSync(ctx, t0); // current_addr == 0 at the start of a call
  let w = anchor >>> 5;
  let bits = words[w]! & (-1 << (anchor & 31));
  scan: for (;;) {
    while (bits === 0) {
      if (++w === nWords) {
        w = 0;
        lapSync(ctx, t0 + k * pageNs); // the scan passes address 0
      }
      if (w === anchor >>> 5) {
        // Back at the anchor's word after a lap: only pages below the anchor remain to be checked.
        const below = anchor & 31;
        bits = below === 0 ? 0 : words[w]! & ((1 << below) - 1);
        if (bits === 0) break scan;
        break;
      }
      bits = words[w]!;
    }
    // The content model matters only for pages the guest never wrote.
    let um = (bits & ~written[w]!) !== 0 ? content.uniformMask(w) & ~written[w]! : 0;
    // Fast path: the word's remaining dirty pages at once, when no guest write falls due among them and
    // their bytes can neither spend the tick's budget nor fill the socket, so every flush among them would
    // send in full and leave the rate limit off; the flushes then happen after the word's last page.
    if (w !== 0 && bits !== 0) {
      if (k >= writesDueAtK) {
        // The vCPUs ran until now: the next page is read as it is at this instant.
        mem.advanceTo(t0 + k * pageNs);
        writesDueAtK = pagesUntil(mem.schedule.nextNs, t0, pageNs);
        um &= ~written[w]!;
      }
      // Up to the page before which the next guest write falls due.
      let n = popcount32(bits);
      let take = bits;
      if (k + n > writesDueAtK) {
        n = writesDueAtK - k;
        let rest = bits;
        for (let j = 0; j < n; j++) rest &= rest - 1;
        take = bits ^ rest;
      }
      const nu = popcount32(take & um);
      const bytes = nu * RAM_SAVE_UNIFORM_PAGE_BYTES + (n - nu) * RAM_SAVE_NORMAL_PAGE_BYTES;
      if (n > 0 && bf.sendsWithinBudget(acc + bytes, t0 + k * pageNs)) {
        if (dest)
          for (let b = take; b !== 0; b &= b - 1) {
            const p = (w << 5) + (31 - Math.clz32(b & -b));
            dest[p] = version![p]!;
          }
        words[w]! &= ~take;
        bits ^= take;
        anchor = (w << 5) + (31 - Math.clz32(take));
        uniform += nu;
        normal += n - nu;
        k += n;
        acc += bytes;
        if (acc >= room) {
          file.putWithinBudget(acc, SECTION.ram, t0 + (k - 1) * pageNs);
          acc = 0;
          room = file.room();
        }
        if (bits === 0) continue;
      }
    }
    // Pages of word w to send, lowest first. Their dirty bits are cleared together when the word is left.
    let sent = 0;
    let last = 0;
    let limited = false;
    while (bits !== 0) {
      const bit = bits & -bits;
      bits ^= bit;
      if (k >= writesDueAtK) {
        // The vCPUs ran until now: the page is read as it is at this instant.
        mem.advanceTo(t0 + k * pageNs);
        writesDueAtK = pagesUntil(mem.schedule.nextNs, t0, pageNs);
        um &= ~written[w]!;
      }
      sent |= bit;
      last = bit;
      if ((um & bit) !== 0) {
        acc += RAM_SAVE_UNIFORM_PAGE_BYTES; // is_dup_page: be64(addr | COMPRESS) + one byte
        uniform++;
      } else {
        acc += RAM_SAVE_NORMAL_PAGE_BYTES; // be64(addr | PAGE) + 4096 bytes
        normal++;
      }
      if (dest) {
        const p = (w << 5) + (31 - Math.clz32(bit));
        dest[p] = version![p]!;
      }
      k++;
      if (acc >= room) {
        file.put(acc, SECTION.ram, t0 + (k - 1) * pageNs); // the staging buffer is full: flush it
        acc = 0;
        room = file.room();
        if (!ignoreRateLimit && file.rateLimit()) {
          limited = true;
          break;
        }
      }
      if (bit === 1 && w === 0) {
        // The next call starts at address 0, where qemu-kvm syncs again; re-read the rest of word 0.
        words[0]! &= ~sent;
        sent = 0;
        lapSync(ctx, t0 + k * pageNs);
        bits = words[0]! & ~1;
        um = (bits & ~written[0]!) !== 0 ? content.uniformMask(0) & ~written[0]! : 0;
      }
    }
    if (sent !== 0) words[w]! &= ~sent;
    if (last !== 0) anchor = (w << 5) + (31 - Math.clz32(last));
    if (limited) break;
  }
  // The cursor stays on the last page sent (or where the call began when a lap found nothing).
  ram.currentPage = anchor;
  t = t0 + k * pageNs;
  if (acc > 0) file.put(acc, SECTION.ram, t);
  ram.dirtyPages -= k;
  ram.pagesNormal += normal;
  ram.pagesUniform += uniform;
  ram.bytesTransferred += k * TARGET_PAGE_SIZE; // counts PAGES × 4096, not wire bytes
  return { pages: k, t };
}

/** How many pages into a send loop starting at t0 the next guest write falls due. */
function pagesUntil(nextNs: Ns, t0: Ns, pageNs: Ns): number {
  if (nextNs <= t0) return 0;
  if (pageNs <= 0 || !Number.isFinite(nextNs)) return Number.POSITIVE_INFINITY;
  return Math.ceil((nextNs - t0) / pageNs);
}

/** Number of set bits in a 32-bit word. */
function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) >>> 0;
}

function lapSync(ctx: MigrationContext, t: Ns): void {
  // kvm_update_dirty_pages_log: the same pull as the per-call sync; its cost is folded into pageCopyNs.
  ctx.mem.advanceTo(t);
  ctx.ram.dirtyPages += ctx.mem.syncDirtyLog(ctx.ram.bitmap);
  ctx.counters.kvmLapSyncs++;
}

/**
 * ram_save_live(f, stage) (vl.c:3067). Stage 1 marks all RAM dirty and starts dirty logging; every stage
 * sends under the rate limit; stage 3 then sends everything left, ignoring the limit.
 * Returns ret = 1 only in stage 2 when the expected downtime fits in max_downtime.
 */
export function ramSaveLive(ctx: MigrationContext, stage: 1 | 2 | 3, t: Ns): SaveResult {
  const ram = ctx.ram;
  const mem = ctx.mem;
  const rec = ctx.rec;
  const tStart = t;
  const bytesStart = ctx.file.bySection[SECTION.ram]!;
  const span = rec.start(SPAN.ramSave, LEVEL.tick, ctx.migrationSpan, { [ATTR.stage]: stage }, t);

  const sync = syncDirtyBitmap(ctx, t);
  rec.span(SPAN.dirtySync, LEVEL.tick, span, t, sync.t, { [ATTR.dirtyPages]: sync.added });
  t = sync.t;
  let dirtyAtSync = sync.added;

  if (stage === 1) {
    ram.bytesTransferred = 0;
    ram.bitmap.fill(true);
    ram.dirtyPages = ram.pages;
    dirtyAtSync = ram.pages;
    mem.setLogging(true);
    ctx.file.put(RAM_SAVE_MEM_SIZE_BYTES, SECTION.ram, t);
  }

  // The bandwidth estimate covers the send loop only (get_clock() before and after).
  const t0 = t;
  const sent0 = ram.bytesTransferred;
  const loop = ramSaveBlocks(ctx, t, false);
  t = loop.t;
  let pages = loop.pages;
  // get_clock() always advances a little, so the elapsed time is never 0.
  const loopNs = Math.max(1, t - t0);
  let bwidth = (ram.bytesTransferred - sent0) / loopNs; // bytes per ns
  if (bwidth === 0) bwidth = 0.000001;

  if (stage === 3) {
    const rest = ramSaveBlocks(ctx, t, true); // ignore the rate limit, send all
    t = rest.t;
    pages += rest.pages;
    mem.setLogging(false);
  }
  ctx.file.put(RAM_SAVE_EOS_BYTES, SECTION.ram, t);

  const expectedNs = (ram.dirtyPages * TARGET_PAGE_SIZE) / bwidth;
  const ret = stage === 2 && expectedNs <= ctx.maxDowntimeNs ? 1 : 0;
  const bytes = ctx.file.bySection[SECTION.ram]! - bytesStart;
  ctx.iterations.push({
    index: ctx.iterations.length + 1,
    startMs: tStart / 1e6,
    endMs: t / 1e6,
    bytes,
    pagesSent: pages,
    dirtyPagesAtSync: dirtyAtSync,
    remainingPages: ram.dirtyPages,
    bandwidthEstimate: bwidth * 1e9,
  });
  rec.end(
    span,
    {
      [ATTR.bytes]: bytes,
      [ATTR.pagesSent]: pages,
      [ATTR.remainingPages]: ram.dirtyPages,
      [ATTR.bandwidthEstimate]: bwidth * 1e9,
      [ATTR.expectedDowntimeMs]: expectedNs / 1e6,
      [ATTR.converged]: ret === 1,
    },
    t,
  );
  return { ret, t };
}

/** Cancel (stage -1): stop dirty logging. */
export function ramSaveCancel(ctx: MigrationContext): void {
  ctx.mem.setLogging(false);
}
