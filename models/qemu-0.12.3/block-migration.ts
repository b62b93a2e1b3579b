/**
 * Block live save of 0.12.3 with `migrate -b` (block-migration.c: block_save_live; qemu-spec.md §2.6).
 * A bulk pass reads the disk in 1 MiB chunks with at most `(submitted + read_done) × 1 MiB < xfer_limit`
 * reads in flight, resetting each chunk's dirty bit at submit time. The handler reports done as soon as
 * the bulk pass is over; every chunk dirtied since is sent in stage 3 with the VM stopped. While the bulk
 * pass runs, savevm never reaches the RAM handler.
 */
import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { BLOCK_FLAG_RECORD_BYTES, BLOCK_RECORD_BYTES, BLOCK_SIZE } from './constants.ts';
import type { MigrationContext } from './context.ts';
import { SECTION } from './qemu-file.ts';
import type { SaveResult } from './ram.ts';

/** A chunk read into memory, waiting to be sent (BlkMigBlock on blk_list). */
interface ReadBlock {
  chunk: number;
  /** The chunk's version when it was read. */
  version: number;
}

/** block_mig_state for one disk. */
export class BlockMigState {
  /** Whether `migrate -b` asked for block migration. */
  active = false;
  /** Next chunk of the bulk pass (cur_sector / 2048). */
  bulkCursor = 0;
  bulkCompleted = false;
  submitted = 0;
  /** Reads in flight, in submit order. */
  readonly inflight: ReadBlock[] = [];
  /** Completed reads waiting to be sent, in completion order. */
  readonly blkList: ReadBlock[] = [];
  /** The host disk is busy reading until then (reads are served one after another). */
  diskBusyUntil: Ns = 0;
  /** AIO reads in flight finish by then (for qemu_aio_flush). */
  inflightUntil: Ns = 0;
  progressPercent = -1;
  chunksSent = 0;
  dirtyChunksSentInStage3 = 0;

  constructor(readonly chunks: number) {}
}

function blkSend(ctx: MigrationContext, b: ReadBlock, t: Ns): void {
  ctx.file.put(BLOCK_RECORD_BYTES, SECTION.block, t);
  if (ctx.dest.chunkVersion) ctx.dest.chunkVersion[b.chunk] = b.version;
  ctx.blk.chunksSent++;
}

/** flush_blks: send completed reads while the file is not rate limited. */
function flushBlks(ctx: MigrationContext, t: Ns): void {
  const list = ctx.blk.blkList;
  while (list.length > 0) {
    if (ctx.file.rateLimit()) break;
    blkSend(ctx, list.shift()!, t);
  }
}

/** Snapshot chunk `chunk` for reading at `t` (the read sees the disk as it is at submit). */
function readChunk(ctx: MigrationContext, chunk: number, t: Ns): ReadBlock {
  const disk = ctx.disk!;
  disk.advanceTo(t);
  disk.resetDirty(chunk);
  return { chunk, version: disk.version[chunk]! };
}

/** Emit a PROGRESS record when the integer percentage of the bulk pass changes. */
function progress(ctx: MigrationContext, t: Ns): void {
  const blk = ctx.blk;
  const pct = Math.floor((blk.bulkCursor * 100) / blk.chunks);
  if (pct !== blk.progressPercent) {
    blk.progressPercent = pct;
    ctx.file.put(BLOCK_FLAG_RECORD_BYTES, SECTION.block, t);
  }
}

/**
 * blk_mig_save_bulked_block(async=1) → mig_save_device_bulk: submit an AIO read of the next chunk.
 * Returns 0 when the bulk pass has submitted every chunk.
 */
function saveBulkedBlockAsync(ctx: MigrationContext, t: Ns): number {
  const blk = ctx.blk;
  if (blk.bulkCursor >= blk.chunks) {
    blk.bulkCompleted = true;
    return 0;
  }
  const b = readChunk(ctx, blk.bulkCursor, t);
  blk.bulkCursor++;
  blk.submitted++;
  const done = Math.max(t, blk.diskBusyUntil) + ctx.costs.chunkReadNs;
  blk.diskBusyUntil = done;
  blk.inflightUntil = Math.max(blk.inflightUntil, done);
  blk.inflight.push(b);
  // blk_mig_read_cb runs on the main loop when the read completes (unless qemu_aio_flush ran it first).
  ctx.mainLoop.post((start) => {
    const i = blk.inflight.indexOf(b);
    if (i >= 0) {
      blk.inflight.splice(i, 1);
      blk.submitted--;
      blk.blkList.push(b);
    }
    return start;
  }, done);
  progress(ctx, t);
  if (blk.bulkCursor >= blk.chunks) blk.bulkCompleted = true;
  return 1;
}

/** qemu_aio_flush: wait for every read in flight and run its completion; returns the time it is done. */
export function qemuAioFlush(ctx: MigrationContext, t: Ns): Ns {
  const blk = ctx.blk;
  if (blk.inflight.length === 0) return t;
  for (const b of blk.inflight.splice(0)) blk.blkList.push(b);
  blk.submitted = 0;
  return Math.max(t, blk.inflightUntil);
}

/** block_save_live(f, stage). */
export function blockSaveLive(ctx: MigrationContext, stage: 1 | 2 | 3, t: Ns): SaveResult {
  const blk = ctx.blk;
  if (!blk.active) {
    ctx.file.put(BLOCK_FLAG_RECORD_BYTES, SECTION.block, t);
    return { ret: 1, t };
  }
  const span = ctx.rec.start(SPAN.blockSave, LEVEL.tick, ctx.migrationSpan, { [ATTR.stage]: stage }, t);
  const bytes0 = ctx.file.bySection[SECTION.block]!;
  if (stage === 1) ctx.disk!.setTracking(true); // init_blk_migration: dirty tracking at 1 MiB granularity

  flushBlks(ctx, t);
  const xferLimit = ctx.bf.xferLimit;
  while ((blk.submitted + blk.blkList.length) * BLOCK_SIZE < xferLimit) {
    if (saveBulkedBlockAsync(ctx, t) === 0) break;
  }
  flushBlks(ctx, t);

  if (stage === 3) {
    // Differs from C: 0.12.3 flushes blk_list here under the spent budget and then frees what is left,
    // losing those chunks (qemu-spec.md §2.8 quirk 6); the model sends them so the destination is whole.
    for (const b of blk.blkList.splice(0)) blkSend(ctx, b, t);
    // Finish the bulk pass synchronously (bdrv_read), then every chunk dirtied in [0, cur_sector).
    const readNs = ctx.costs.chunkReadNs;
    while (blk.bulkCursor < blk.chunks) {
      t += readNs;
      blkSend(ctx, readChunk(ctx, blk.bulkCursor, t), t);
      blk.bulkCursor++;
      progress(ctx, t);
    }
    blk.bulkCompleted = true;
    const disk = ctx.disk!;
    for (let c = disk.dirty.nextSet(0); c >= 0; c = disk.dirty.nextSet(c + 1)) {
      t += readNs;
      blkSend(ctx, readChunk(ctx, c, t), t);
      blk.dirtyChunksSentInStage3++;
    }
    ctx.file.put(BLOCK_FLAG_RECORD_BYTES, SECTION.block, t); // PROGRESS 100
    disk.setTracking(false);
  }
  ctx.file.put(BLOCK_FLAG_RECORD_BYTES, SECTION.block, t); // EOS

  const ret = stage === 2 && blk.submitted === 0 && blk.bulkCompleted ? 1 : 0;
  ctx.rec.end(
    span,
    {
      [ATTR.bytes]: ctx.file.bySection[SECTION.block]! - bytes0,
      [ATTR.blockChunks]: blk.chunksSent,
      [ATTR.blockDirtyChunks]: ctx.disk!.dirtyCount,
    },
    t,
  );
  return { ret, t };
}
