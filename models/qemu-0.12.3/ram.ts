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
 * ram_save_block (vl.c): find the next dirty page from the cursor, at most one lap, and send it at `t`.
 * qemu-kvm pulls KVM's dirty log again whenever the scan stands at address 0. Returns 1 if a page went out.
 */
export function ramSaveBlock(ctx: MigrationContext, t: Ns): number {
  const ram = ctx.ram;
  const mem = ctx.mem;
  const start = ram.currentPage;
  let p: number;
  if (start === 0) {
    lapSync(ctx, t);
    p = ram.bitmap.nextSet(0);
  } else {
    p = ram.bitmap.nextSet(start);
    if (p < 0) {
      // The scan wraps to address 0: qemu-kvm syncs there, then looks at [0, start).
      lapSync(ctx, t);
      p = ram.bitmap.nextSet(0);
      if (p >= start) p = -1;
    }
  }
  if (p < 0) {
    // A full lap found nothing; in C the cursor ends where it began.
    ram.currentPage = start;
    return 0;
  }
  ram.currentPage = p;
  // The vCPUs ran until now: the page is read as it is at `t`.
  if (mem.schedule.nextNs <= t) mem.advanceTo(t);
  ram.bitmap.clear(p);
  ram.dirtyPages--;
  if (mem.isUniform(p)) {
    ctx.file.put(RAM_SAVE_UNIFORM_PAGE_BYTES, SECTION.ram, t);
    ram.pagesUniform++;
  } else {
    ctx.file.put(RAM_SAVE_NORMAL_PAGE_BYTES, SECTION.ram, t);
    ram.pagesNormal++;
  }
  const dv = ctx.dest.pageVersion;
  if (dv) dv[p] = mem.version![p]!;
  return 1;
}

function lapSync(ctx: MigrationContext, t: Ns): void {
  // kvm_update_dirty_pages_log: same pull as the per-call sync. Its cost is folded into the per-page cost.
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
  const pageNs = ctx.costs.pageCopyNs;
  let pages = 0;
  while (!ctx.file.rateLimit()) {
    if (ramSaveBlock(ctx, t) === 0) break;
    ram.bytesTransferred += TARGET_PAGE_SIZE;
    pages++;
    t += pageNs;
  }
  // get_clock() always advances a little, so the elapsed time is never 0.
  const loopNs = Math.max(1, t - t0);
  let bwidth = (ram.bytesTransferred - sent0) / loopNs; // bytes per ns
  if (bwidth === 0) bwidth = 0.000001;

  if (stage === 3) {
    while (ramSaveBlock(ctx, t) !== 0) {
      ram.bytesTransferred += TARGET_PAGE_SIZE;
      pages++;
      t += pageNs;
    }
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
