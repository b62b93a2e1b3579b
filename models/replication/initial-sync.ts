/**
 * The initial full synchronisation (qemu-spec.md §6: COLO and Kemari start with an ordinary migration):
 * a pre-copy at the scenario's bandwidth, following 7.2's convergence rule (§3.4, §3.6, §7.5). Setup
 * turns dirty logging on and marks every page dirty (ram_save_setup); the guest runs while pages are sent
 * round the bitmap; when fewer pages are left dirty than fit in downtime-limit at the rate
 * (ram_save_pending: remaining < threshold), the dirty log is synced (migration_bitmap_sync) and, if the
 * remainder is still under the threshold, the pre-copy is done: the stop-and-copy that follows is
 * checkpoint 0 (index.ts). Otherwise sending goes on from the cursor.
 * Differs from C: a fluid rate cap instead of 100 ms windows; the threshold uses the configured rate
 * (or the link's) rather than the bandwidth measured per window; the pending test runs at every writev
 * rather than once per ram_save_iterate call; no XBZRLE, multifd or auto-converge.
 */
import type { Span } from '@opentelemetry/api';
import type { SimEvent } from '../../sim/events.ts';
import { LEVEL } from '../../sim/span-recorder.ts';
import { type Ns, S } from '../../sim/time.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import {
  EOS_BYTES,
  SECTION_FOOTER_BYTES,
  SECTION_PART_HEADER_BYTES,
  STREAM_SETUP_BYTES,
  TARGET_PAGE_SIZE,
} from './constants.ts';
import type { InitialSync, ReplicationContext } from './context.ts';
import { flush, put, sendDirtyPages } from './stream.ts';

/** The pre-copy rate cap in bytes/s: max-bandwidth, 0 meaning unlimited (the link then limits). */
export function precopyRateCap(ctx: ReplicationContext): number {
  const mib = ctx.scn.migration.maxBandwidthMiBps;
  return mib === 0 ? Number.POSITIVE_INFINITY : mib * 1024 * 1024;
}

/**
 * Run the pre-copy from env.now; returns when the final stop-and-copy should begin (converged) or when
 * migration.timeoutS has passed without converging.
 */
export function* initialSync(
  ctx: ReplicationContext,
  parent: Span,
): Generator<SimEvent<unknown>, InitialSync, unknown> {
  const { env, rec, mem, scn } = ctx;
  const start = env.now;
  const ram0 = ctx.counters.bytesRam;
  // tcp connect: one round trip before the first byte.
  let t: Ns = start + 2 * ctx.link.latencyNs;
  mem.advanceTo(t);
  mem.setLogging(true); // memory_global_dirty_log_start
  ctx.bitmap.fill(true); // ram_list_init_bitmaps: every page dirty
  ctx.dirtyPages = mem.pages;
  put(ctx, STREAM_SETUP_BYTES, 'ram');
  t = flush(ctx, t);
  const cap = precopyRateCap(ctx);
  const rate = Math.min(cap, ctx.link.bytesPerSecond);
  // threshold_size = bandwidth × downtime-limit; pending = dirty pages × TARGET_PAGE_SIZE < threshold.
  const thresholdBytes = (rate * scn.migration.downtimeLimitMs) / 1000;
  const stopBelow = Math.ceil(thresholdBytes / TARGET_PAGE_SIZE);
  const deadline = start + Math.round(scn.migration.timeoutS * S);
  let cursor = 0;
  let passes = 0;
  for (;;) {
    passes++;
    const passStart = t;
    put(ctx, SECTION_PART_HEADER_BYTES, 'ram');
    const r = sendDirtyPages(ctx, t, cap, true, cursor, stopBelow);
    cursor = r.cursor;
    put(ctx, EOS_BYTES + SECTION_FOOTER_BYTES, 'ram');
    t = flush(ctx, r.t);
    // migration_bitmap_sync: KVM's log of the pages written since the last sync.
    t += ctx.costs.bitmapSyncNs;
    mem.advanceTo(t);
    const dirty = mem.syncDirtyLog(ctx.bitmap);
    ctx.dirtyPages += dirty;
    rec.span(SPAN.pass, LEVEL.iteration, parent, passStart, t, {
      [ATTR.pass]: passes,
      [ATTR.bytes]: r.bytes,
      [ATTR.pagesSent]: r.pages,
      [ATTR.dirtyPages]: dirty,
      [ATTR.remainingPages]: ctx.dirtyPages,
    });
    if (t > env.now) yield env.timeout(t - env.now);
    const bytes = ctx.counters.bytesRam - ram0;
    if (ctx.dirtyPages < stopBelow) return { passes, bytes, converged: true, endNs: t };
    if (t >= deadline) return { passes, bytes, converged: false, endNs: t };
  }
}
