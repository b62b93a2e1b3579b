/**
 * The migration driver of 0.12.3 (migration.c, migration-tcp.c; qemu-spec.md §2.2, §2.4): `migrate -d`
 * connects, `migrate_fd_connect` opens the buffered file and runs stage 1 and a first iteration, every
 * `buffered_rate_tick` runs one more iteration, and when savevm says it is done the VM stops, stage 3 and
 * device state go out, and `buffered_close` drains everything before the state says COMPLETED.
 * Everything runs on the source's single main loop.
 */
import { LEVEL } from '../../sim/span-recorder.ts';
import { MS, type Ns } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import { qemuAioFlush } from './block-migration.ts';
import { BUFFERED_RATE_TICK_MS, MIG_STATE } from './constants.ts';
import type { MigrationContext } from './context.ts';
import { ramSaveCancel } from './ram.ts';
import { qemuSavevmStateBegin, qemuSavevmStateComplete, qemuSavevmStateIterate } from './savevm.ts';

/** rt_clock has millisecond resolution: a timer armed "now + 100" fires on a whole millisecond. */
function rtClockPlus(t: Ns, ms: number): Ns {
  return (Math.floor(t / MS) + ms) * MS;
}

/**
 * do_migrate → tcp_start_outgoing_migration (migration.c:57, migration-tcp.c:79): state ACTIVE, a
 * non-blocking connect; `tcp_wait_for_connect` runs when the handshake is done (one RTT later).
 */
export function doMigrate(ctx: MigrationContext, t: Ns, blk: boolean): Ns {
  ctx.state = MIG_STATE.ACTIVE;
  ctx.marks.migrateNs = t;
  ctx.blk.active = blk && ctx.disk !== null;
  const rttNs = ctx.socket.latencyNs * 2;
  ctx.mainLoop.post((start) => tcpWaitForConnect(ctx, start), t + rttNs);
  return t;
}

function tcpWaitForConnect(ctx: MigrationContext, t: Ns): Ns {
  if (ctx.state !== MIG_STATE.ACTIVE) return t;
  return migrateFdConnect(ctx, t);
}

/** migrate_fd_connect (migration.c:354): buffered file + 100 ms timer, stage 1, then a first put_ready. */
export function migrateFdConnect(ctx: MigrationContext, t: Ns): Ns {
  ctx.marks.connectedNs = t;
  ctx.marks.handlerStartNs = t;
  ctx.bf.putReady = (start) => {
    ctx.marks.handlerStartNs = start;
    return migrateFdPutReady(ctx, start);
  };
  armRateTick(ctx, rtClockPlus(t, BUFFERED_RATE_TICK_MS));
  const setup = ctx.rec.start(SPAN.setup, LEVEL.stage, ctx.migrationSpan, undefined, ctx.marks.migrateNs);
  t = qemuSavevmStateBegin(ctx, t);
  ctx.rec.end(setup, { [ATTR.bytes]: ctx.file.total }, t);
  return migrateFdPutReady(ctx, t);
}

function armRateTick(ctx: MigrationContext, at: Ns): void {
  ctx.mainLoop.post((start) => bufferedRateTick(ctx, start), at);
}

/** buffered_rate_tick (buffered_file.c:221): re-arm, skip while frozen, else new budget, flush, put_ready. */
export function bufferedRateTick(ctx: MigrationContext, t: Ns): Ns {
  const bf = ctx.bf;
  if (ctx.state !== MIG_STATE.ACTIVE || bf.hasError) return t; // the timer died with the file
  armRateTick(ctx, rtClockPlus(t, BUFFERED_RATE_TICK_MS));
  ctx.counters.ticks++;
  if (bf.freezeOutput) {
    ctx.counters.ticksSkippedFrozen++;
    return t;
  }
  ctx.marks.handlerStartNs = t;
  const bytes0 = ctx.file.total;
  bf.bytesXfer = 0;
  bf.flush(t);
  const end = migrateFdPutReady(ctx, t);
  if (ctx.rec.on(LEVEL.tick))
    ctx.rec.span(
      SPAN.window,
      LEVEL.tick,
      ctx.migrationSpan,
      t,
      Math.max(end, t + BUFFERED_RATE_TICK_MS * MS),
      {
        [ATTR.bytes]: ctx.file.total - bytes0,
        [ATTR.xferLimit]: bf.xferLimit,
        [ATTR.bytesXfer]: bf.bytesXfer,
      },
    );
  return end;
}

/** migrate_fd_put_ready (migration.c:377): one savevm iteration; when every handler is done, complete. */
export function migrateFdPutReady(ctx: MigrationContext, t: Ns): Ns {
  if (ctx.state !== MIG_STATE.ACTIVE) return t;
  const rec = ctx.rec;
  const bytes0 = ctx.file.total;
  const span = rec.start(SPAN.iteration, LEVEL.iteration, ctx.migrationSpan, undefined, t);
  const r = qemuSavevmStateIterate(ctx, t);
  const tIter = r.t;
  rec.end(
    span,
    {
      [ATTR.bytes]: ctx.file.total - bytes0,
      [ATTR.remainingPages]: ctx.ram.dirtyPages,
      [ATTR.converged]: r.ret === 1,
    },
    tIter,
  );
  if (r.ret !== 1) return tIter;
  return migrationComplete(ctx, tIter);
}

/** The completion branch of migrate_fd_put_ready: vm_stop, flushes, stage 3, device state, cleanup. */
function migrationComplete(ctx: MigrationContext, t: Ns): Ns {
  const rec = ctx.rec;
  // vm_stop(0): the guest stops here; downtime starts.
  ctx.marks.stopNs = t;
  ctx.mem.advanceTo(t);
  ctx.mem.schedule.stop();
  if (ctx.disk) {
    ctx.disk.advanceTo(t);
    ctx.disk.schedule.stop();
  }
  rec.event(ctx.migrationSpan, EVENT.stop, undefined, t);
  rec.event(ctx.migrationSpan, EVENT.switchoverDecision, { [ATTR.remainingPages]: ctx.ram.dirtyPages }, t);
  const bytes0 = ctx.file.total;
  const complete = rec.start(SPAN.complete, LEVEL.stage, ctx.migrationSpan, undefined, t);
  t = qemuAioFlush(ctx, t); // qemu_aio_flush(); bdrv_flush_all()
  t = qemuSavevmStateComplete(ctx, t);
  rec.end(complete, { [ATTR.bytes]: ctx.file.total - bytes0 }, t);
  ctx.marks.completeEndNs = t;
  // migrate_fd_cleanup → qemu_fclose → buffered_close: drain synchronously, close the socket.
  const backlog = ctx.bf.bufferSize;
  const drained = ctx.bf.close(t);
  rec.span(SPAN.drain, LEVEL.stage, ctx.migrationSpan, t, drained, { [ATTR.bytesDrained]: backlog });
  ctx.marks.closedNs = drained;
  ctx.state = MIG_STATE.COMPLETED; // only now does `info migrate` say completed
  ctx.onFinished(drained);
  return drained;
}

/** migrate_cancel → migrate_fd_cancel: state CANCELLED, savevm cancel (dirty logging off), cleanup. */
export function migrateFdCancel(ctx: MigrationContext, t: Ns): Ns {
  if (ctx.state !== MIG_STATE.ACTIVE) return t;
  ctx.state = MIG_STATE.CANCELLED;
  ramSaveCancel(ctx);
  if (ctx.disk) ctx.disk.setTracking(false);
  ctx.bf.hasError = true; // the timer and the write handler die with the file
  ctx.onFinished(t);
  return t;
}
