/**
 * The outgoing replication stream: records are staged and written to the link with one blocking write per
 * QEMUFile writev (32 normal pages, qemu-file.c MAX_IOV_SIZE) or explicit flush. A blocking write returns
 * when the bytes queued on the link are back down to the socket send buffer, as in the 7.2 model.
 * The page send loop is shared by the initial pre-copy passes and the checkpoints.
 */
import { type Ns, S } from '../../sim/time.ts';
import { NORMAL_PAGE_BYTES, PAGES_PER_WRITEV, ZERO_PAGE_BYTES } from './constants.ts';
import type { ReplicationContext } from './context.ts';

/** Which part of the stream bytes belong to, for result.bytes. */
export type Section = 'ram' | 'device';

/** Stage `n` bytes of `section` (qemu_put_*); they go out at the next flush. */
export function put(ctx: ReplicationContext, n: number, section: Section): void {
  ctx.staged += n;
  if (section === 'ram') ctx.counters.bytesRam += n;
  else ctx.counters.bytesDevice += n;
}

/** qemu_fflush: one blocking write of everything staged at `t`; returns when the socket took it. */
export function flush(ctx: ReplicationContext, t: Ns): Ns {
  const n = ctx.staged;
  if (n === 0) return t;
  ctx.staged = 0;
  ctx.link.offer(n, t);
  return ctx.link.timeLevelAtMost(ctx.sendBuffer, t);
}

/** What a send loop did. */
export interface SendResult {
  t: Ns;
  pages: number;
  bytes: number;
  /** Where the scan goes on next time (the page after the last one sent). */
  cursor: number;
}

/**
 * Send the pages set in the migration bitmap (clearing them) in address order from `cursor`, wrapping
 * round, at most at `paceBytesPerS` (Infinity: full link speed, the rate limit off as in Kemari and
 * stop-and-copy). Stops when the bitmap is empty or, checked at each writev, when fewer than `stopBelow`
 * pages are left dirty (ram_save_pending's test, qemu-spec.md §3.6).
 * `live`: the guest runs meanwhile (pre-copy), so its writes are applied up to each send instant and the
 * standby's incoming migration stores the page at once; otherwise (a checkpoint, guest stopped) the page
 * joins the checkpoint in flight, committed only at the standby's ack.
 */
export function sendDirtyPages(
  ctx: ReplicationContext,
  t: Ns,
  paceBytesPerS: number,
  live: boolean,
  cursor = 0,
  stopBelow = 0,
): SendResult {
  const { bitmap, mem, standby } = ctx;
  const version = mem.version;
  const dest = standby.pageVersion;
  const pageNs = ctx.costs.pageCopyNs;
  const paced = Number.isFinite(paceBytesPerS);
  const t0 = t;
  let pages = 0;
  let bytes = 0;
  let batch = 0;
  let p = cursor;
  if (ctx.dirtyPages < stopBelow) return { t, pages, bytes, cursor };
  while (ctx.dirtyPages > 0) {
    p = bitmap.nextSet(p);
    if (p < 0) p = bitmap.nextSet(0);
    bitmap.clear(p);
    ctx.dirtyPages--;
    t += pageNs;
    if (paced) {
      const due = t0 + Math.ceil((bytes * S) / paceBytesPerS);
      if (due > t) t = due;
    }
    if (live) mem.advanceTo(t);
    const n = mem.isUniform(p) ? ZERO_PAGE_BYTES : NORMAL_PAGE_BYTES;
    if (n === ZERO_PAGE_BYTES) ctx.counters.pagesUniform++;
    else ctx.counters.pagesNormal++;
    if (live) {
      if (dest && version) dest[p] = version[p]!;
    } else standby.inFlight[standby.inFlightCount++] = p;
    put(ctx, n, 'ram');
    bytes += n;
    pages++;
    p++;
    if (++batch === PAGES_PER_WRITEV) {
      t = flush(ctx, t);
      batch = 0;
      if (ctx.dirtyPages < stopBelow) break;
    }
  }
  return { t: flush(ctx, t), pages, bytes, cursor: p };
}
