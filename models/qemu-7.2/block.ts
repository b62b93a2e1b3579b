/**
 * Block migration of 7.2 (migration/block.c; qemu-spec.md §3.10), capability `block` (`migrate -b`): a
 * bulk pass reads the disk in 1 MiB chunks with at most MAX_PARALLEL_IO reads in flight and MAX_IO_BUFFERS
 * buffers held, resetting each chunk's dirty bit at submit; after the bulk pass, dirty chunks are re-sent
 * during iteration; completion sends the rest synchronously with the VM stopped. RAM sends nothing while
 * the bulk pass runs. With `zero-blocks`, an all-zero chunk goes out as a header only.
 */
import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { CHUNK_SIZE } from '../guest/disk.ts';
import {
  BE64,
  BLK_MIG_BLOCK_SIZE,
  BLOCK_RECORD_HEADER_BYTES,
  MAX_IO_BUFFERS,
  MAX_PARALLEL_IO,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { SECTION } from './qemu-file.ts';

/** A chunk being read or read (BlkMigBlock). */
interface BlkMigBlock {
  chunk: number;
  /** The chunk's version when the read was submitted (the dirty bit is reset then). */
  version: number;
  /** When the AIO read completes. */
  done: Ns;
}

/** block_mig_state with the one BlkMigDevState. */
export class BlkMigState {
  /** The `block` capability is on and the VM has a disk. */
  active = false;
  bulkCompleted = false;
  /** `cur_sector` of the bulk pass, in chunks. */
  curSector = 0;
  /** `cur_dirty`: where the dirty scan resumes, in chunks. */
  curDirty = 0;
  /** Reads in flight (`submitted`), in completion order (one disk serves them in turn). */
  readonly inflight: BlkMigBlock[] = [];
  /** Completed reads waiting to be sent (`blk_list`, `read_done`). */
  readonly blkList: BlkMigBlock[] = [];
  diskBusyUntil: Ns = 0;
  prevProgress = -1;
  /** Chunks sent (`transferred`), those sent as ZERO_BLOCK, and dirty chunks re-sent after the bulk. */
  transferred = 0;
  zeroBlocks = 0;
  dirtyResent = 0;
  /** Chunks past this hold no data (the guest writes only the allocated area). */
  readonly allocatedChunks: number;

  constructor(
    readonly chunks: number,
    allocatedMiB: number,
  ) {
    this.allocatedChunks = Math.ceil((allocatedMiB * (1 << 20)) / CHUNK_SIZE);
  }
}

/** blk_mig_bulk_active: block migration runs and its bulk pass is unfinished. */
export function blkMigBulkActive(ctx: MigrationContext): boolean {
  return ctx.blk.active && !ctx.blk.bulkCompleted;
}

/** blk_mig_read_cb for every read done by `t` (they run on the main loop as reads complete). */
function reapReads(ctx: MigrationContext, t: Ns): void {
  const blk = ctx.blk;
  while (blk.inflight.length > 0 && blk.inflight[0]!.done <= t) blk.blkList.push(blk.inflight.shift()!);
}

/** blk_send: header + device name, then the chunk unless it is all zero and zero-blocks is on. */
function blkSend(ctx: MigrationContext, b: BlkMigBlock, t: Ns): Ns {
  const blk = ctx.blk;
  const zero = ctx.caps.zeroBlocks && b.chunk >= blk.allocatedChunks && b.version === 0;
  if (ctx.dest.chunkVersion) ctx.dest.chunkVersion[b.chunk] = b.version;
  blk.transferred++;
  t = ctx.file.put(BLOCK_RECORD_HEADER_BYTES, SECTION.block, t);
  if (zero) {
    // "we need to flush here since the network bandwidth is now a lot higher than the storage device"
    blk.zeroBlocks++;
    return ctx.file.fflush(t);
  }
  return ctx.file.put(BLK_MIG_BLOCK_SIZE, SECTION.block, t);
}

/** flush_blks: send completed reads while the file is not rate limited. */
function flushBlks(ctx: MigrationContext, t: Ns): Ns {
  reapReads(ctx, t);
  const list = ctx.blk.blkList;
  while (list.length > 0) {
    if (ctx.file.rateLimit()) break;
    t = blkSend(ctx, list.shift()!, t);
  }
  return t;
}

/** Submit an AIO read of `chunk` at `t`, resetting its dirty bit (the read sees the disk as it is now). */
function submitRead(ctx: MigrationContext, chunk: number, t: Ns): void {
  const blk = ctx.blk;
  const disk = ctx.disk!;
  disk.advanceTo(t);
  disk.resetDirty(chunk);
  const done = Math.max(t, blk.diskBusyUntil) + ctx.costs.chunkReadNs;
  blk.diskBusyUntil = done;
  blk.inflight.push({ chunk, version: disk.version[chunk]!, done });
}

/**
 * blk_mig_save_bulked_block → mig_save_device_bulk: submit the next chunk of the bulk pass and emit a
 * PROGRESS record when the percentage changes. Returns 0 once the device's bulk pass had already ended.
 */
function blkMigSaveBulkedBlock(ctx: MigrationContext, t: Ns): number {
  const blk = ctx.blk;
  let ret = 0;
  if (blk.curSector < blk.chunks) {
    submitRead(ctx, blk.curSector, t);
    blk.curSector++;
    ret = 1;
  }
  const progress = Math.floor((blk.curSector * 100) / blk.chunks);
  if (progress !== blk.prevProgress) {
    blk.prevProgress = progress;
    ctx.file.put(BE64, SECTION.block, t);
  }
  return ret;
}

/**
 * blk_mig_save_dirty_block → mig_save_device_dirty: the next dirty chunk from `cur_dirty`, read async
 * (submitted) or synchronously and sent. A chunk with a read in flight drains the disk first. Returns
 * 1 when the scan reached the end of the device. The time after is in `ctx.blk.diskBusyUntil` / returned.
 */
function blkMigSaveDirtyBlock(ctx: MigrationContext, isAsync: boolean, t: Ns): { ret: number; t: Ns } {
  const blk = ctx.blk;
  const disk = ctx.disk!;
  disk.advanceTo(t);
  const c = blk.curDirty < blk.chunks ? disk.dirty.nextSet(blk.curDirty) : -1;
  if (c < 0) {
    blk.curDirty = blk.chunks;
    return { ret: 1, t };
  }
  if (isAsync && blk.inflight.some((b) => b.chunk === c)) {
    // bdrv_drain: every read in flight completes first.
    t = Math.max(t, blk.inflight[blk.inflight.length - 1]!.done);
    reapReads(ctx, t);
  }
  blk.dirtyResent++;
  if (isAsync) submitRead(ctx, c, t);
  else {
    disk.resetDirty(c);
    const b = { chunk: c, version: disk.version[c]!, done: t };
    t += ctx.costs.chunkReadNs;
    t = blkSend(ctx, b, t);
  }
  blk.curDirty = c + 1;
  return { ret: blk.curDirty >= blk.chunks ? 1 : 0, t };
}

/** block_save_setup: dirty tracking on (1 MiB granularity), flush, EOS. */
export function blockSaveSetup(ctx: MigrationContext, t: Ns): Ns {
  ctx.disk!.advanceTo(t);
  ctx.disk!.setTracking(true);
  t = flushBlks(ctx, t);
  ctx.blk.curDirty = 0;
  return ctx.file.put(BE64, SECTION.block, t);
}

/**
 * block_save_iterate: send finished reads, submit reads (bulk first, then dirty chunks) within the
 * limits, send again, EOS. Returns the time after; the C return value (bytes written > 0) is always 1
 * here since EOS is counted.
 * Differs from C: when nothing could be read or sent because every read is still in flight, QEMU's thread
 * spins through the loop; the model jumps to the first read completion instead.
 */
export function blockSaveIterate(ctx: MigrationContext, t: Ns): Ns {
  const blk = ctx.blk;
  const file = ctx.file;
  const rec = ctx.rec;
  const start = t;
  const bytes0 = file.bySection[SECTION.block]!;
  const sent0 = blk.transferred;
  const submitted0 = blk.curSector + blk.dirtyResent;
  t = flushBlks(ctx, t);
  blk.curDirty = 0;
  while (
    blk.blkList.length * BLK_MIG_BLOCK_SIZE < file.rateLimitMax &&
    blk.inflight.length < MAX_PARALLEL_IO &&
    blk.inflight.length + blk.blkList.length < MAX_IO_BUFFERS
  ) {
    let ret: number;
    if (!blk.bulkCompleted) {
      if (blkMigSaveBulkedBlock(ctx, t) === 0) blk.bulkCompleted = true;
      ret = 0;
    } else {
      const r = blkMigSaveDirtyBlock(ctx, true, t);
      ret = r.ret;
      t = r.t;
    }
    if (ret !== 0) break;
  }
  t = flushBlks(ctx, t);
  if (
    blk.transferred === sent0 &&
    blk.curSector + blk.dirtyResent === submitted0 &&
    blk.inflight.length > 0
  ) {
    t = Math.max(t, blk.inflight[0]!.done);
  }
  t = file.put(BE64, SECTION.block, t);
  rec.span(SPAN.blockSave, LEVEL.tick, ctx.migrationSpan, start, t, {
    [ATTR.bytes]: file.bySection[SECTION.block]! - bytes0,
    [ATTR.blockChunks]: blk.transferred,
    [ATTR.blockDirtyChunks]: ctx.disk!.dirtyCount,
  });
  return t;
}

/** block_save_pending: dirty bytes + reads held; at least threshold + 1 MiB while the bulk pass runs. */
export function blockSavePending(ctx: MigrationContext, maxSize: number): number {
  const blk = ctx.blk;
  let pending = (ctx.disk!.dirtyCount + blk.inflight.length + blk.blkList.length) * BLK_MIG_BLOCK_SIZE;
  if (pending <= maxSize && !blk.bulkCompleted) pending = maxSize + BLK_MIG_BLOCK_SIZE;
  return pending;
}

/** bdrv_drain_all at vm_stop: every read in flight completes. Returns the time after. */
export function blkDrain(ctx: MigrationContext, t: Ns): Ns {
  const blk = ctx.blk;
  if (blk.inflight.length === 0) return t;
  t = Math.max(t, blk.inflight[blk.inflight.length - 1]!.done);
  reapReads(ctx, t);
  return t;
}

/**
 * block_save_complete (VM stopped, rate limit off): send what was read, then every dirty chunk
 * synchronously, PROGRESS 100, EOS. Dirty tracking stops.
 */
export function blockSaveComplete(ctx: MigrationContext, t: Ns): Ns {
  const blk = ctx.blk;
  t = flushBlks(ctx, t);
  blk.curDirty = 0;
  for (;;) {
    const r = blkMigSaveDirtyBlock(ctx, false, t);
    t = r.t;
    if (r.ret !== 0) break;
  }
  t = ctx.file.put(BE64, SECTION.block, t); // PROGRESS 100
  t = ctx.file.put(BE64, SECTION.block, t); // EOS
  ctx.disk!.setTracking(false);
  return t;
}
