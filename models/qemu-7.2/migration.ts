/**
 * The migration driver of 7.2 (migration/migration.c; qemu-spec.md §3.2-3.4, §3.9): `qmp_migrate` sets
 * up the channel and starts the `live_migration` thread. The thread writes the header and runs every
 * handler's setup, then loops: while the file is not rate limited, `migration_iteration_run` compares the
 * pending estimate with the threshold (bandwidth of the last 100 ms window × downtime-limit) and either
 * iterates or completes; `migration_rate_limit` closes windows and sleeps to the end of a window whose
 * budget is spent. Completion stops the VM, waits for migrate-continue when pause-before-switchover is on,
 * and sends the rest unthrottled.
 *
 * The thread is a process with a local clock `t`: synchronous work advances `t`, blocking on the socket
 * moves it to when the socket takes the bytes, and at the end of each loop it yields until the environment
 * catches up, which is where it sees a cancel.
 */
import type { Span } from '@opentelemetry/api';
import type { ProcessBody, SimEvent } from '../../sim/events.ts';
import { LEVEL } from '../../sim/span-recorder.ts';
import { MS, type Ns, US } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import { blkDrain } from './block.ts';
import { BUFFER_DELAY, MIGRATION_STATUS, MIGRATION_STATUS_NAME, XFER_LIMIT_RATIO } from './constants.ts';
import type { MigrationContext } from './context.ts';
import { cpuThrottleStop } from './cpu-throttle.ts';
import { closePass, ramSaveCleanup } from './ram.ts';
import {
  qemuSavevmStateCompletePrecopy,
  qemuSavevmStateHeader,
  qemuSavevmStateIterate,
  qemuSavevmStatePending,
  qemuSavevmStateSetup,
} from './savevm.ts';

/** MigIterateState. */
export const MIG_ITERATE = { RESUME: 0, SKIP: 1, BREAK: 2 } as const;

/**
 * A loop that neither sends, sleeps nor blocks would spin forever on a simulated clock; QEMU's thread
 * spends at least this much per turn (a pending query, the rate-limit check).
 */
const LOOP_MIN_NS = 10 * US;

/** migrate_set_state: change state at `t` and tell the listeners (QMP event MIGRATION). */
export function migrateSetState(ctx: MigrationContext, state: number, t: Ns): void {
  ctx.s.state = state;
  ctx.rec.event(ctx.migrationSpan, EVENT.migrationState, { [ATTR.state]: MIGRATION_STATUS_NAME[state]! }, t);
  ctx.onState(state, t);
}

/** migration_is_active (and SETUP, for the setup phase): the states the thread keeps going in. */
function migrationIsActive(state: number): boolean {
  return state === MIGRATION_STATUS.ACTIVE || state === MIGRATION_STATUS.SETUP;
}

/**
 * qmp_migrate (migration.c:2402) → migrate_init: state SETUP at `t`, threshold 0. `fd:` URIs (libvirt)
 * are connected already; `tcp:` ones connect asynchronously, one round trip. Multifd channels always
 * connect themselves. The thread starts in migrate_fd_connect once the main channel is up.
 */
export function qmpMigrate(ctx: MigrationContext, t: Ns, uri: string, parent: Span): void {
  const { env, rec } = ctx;
  ctx.marks.migrateNs = t;
  ctx.s.thresholdSize = 0;
  ctx.migrationSpan = rec.start(
    SPAN.migration,
    LEVEL.stage,
    parent,
    {
      [ATTR.uri]: uri,
      [ATTR.capabilities]: ctx.scn.migration.capabilities.join(','),
      [ATTR.maxBandwidth]: Number.isFinite(ctx.s.maxBandwidth) ? ctx.s.maxBandwidth : 0,
      [ATTR.downtimeLimitMs]: ctx.s.downtimeLimitMs,
    },
    t,
  );
  migrateSetState(ctx, MIGRATION_STATUS.SETUP, t);
  const rttNs = ctx.link.latencyNs * 2;
  const connected = uri.startsWith('fd:') ? t : t + rttNs;
  if (ctx.multifd) ctx.multifd.connectedNs = t + rttNs;
  const body = function* (): ProcessBody<void> {
    if (connected > env.now) yield env.timeout(connected - env.now);
    if (ctx.s.state !== MIGRATION_STATUS.SETUP) return; // cancelled while connecting
    migrateFdConnect(ctx);
    yield* migrationThread(ctx);
  };
  env.process(body(), 'live_migration');
}

/** migrate_fd_connect (migration.c:4203): the window budget is max-bandwidth / 10; the channel blocks. */
function migrateFdConnect(ctx: MigrationContext): void {
  ctx.file.rateLimitMax = ctx.s.maxBandwidth / XFER_LIMIT_RATIO;
}

/** update_iteration_initial_status: a new window starts at `nowMs` with the bytes sent so far. */
function updateIterationInitialStatus(ctx: MigrationContext, nowMs: number): void {
  ctx.s.iterationStartMs = nowMs;
  ctx.s.iterationInitialBytes = migrationTotalBytes(ctx);
}

/** migration_total_bytes: what the main channel wrote plus multifd bytes. */
function migrationTotalBytes(ctx: MigrationContext): number {
  return ctx.file.totalTransferred + (ctx.multifd ? ctx.multifd.bytes : 0);
}

/** migration_thread (migration.c:3956). */
function* migrationThread(ctx: MigrationContext): ProcessBody<void> {
  const { env, rec, file } = ctx;
  let t = env.now;
  ctx.marks.threadStartNs = t;
  updateIterationInitialStatus(ctx, Math.floor(t / MS));
  const setup = rec.start(SPAN.setup, LEVEL.stage, ctx.migrationSpan, undefined, t);
  t = qemuSavevmStateHeader(ctx, t);
  t = qemuSavevmStateSetup(ctx, t);
  // qemu_savevm_wait_unplug: no failover devices, so SETUP → ACTIVE at once.
  if (ctx.s.state === MIGRATION_STATUS.SETUP) migrateSetState(ctx, MIGRATION_STATUS.ACTIVE, t);
  ctx.marks.activeNs = t;
  rec.end(setup, { [ATTR.bytes]: file.total }, t);
  if (t > env.now) yield env.timeout(t - env.now);

  let urgent = false;
  while (migrationIsActive(ctx.s.state)) {
    const t0 = t;
    if (urgent || !file.rateLimit()) {
      t = migrationIterationRun(ctx, t);
      if (ctx.s.iterState === MIG_ITERATE.BREAK) {
        // Differs from C: migration_iteration_run calls migration_completion itself; here the thread does,
        // right after, because waiting for migrate-continue needs the process.
        t = yield* migrationCompletion(ctx, t);
        break;
      }
    }
    // migration_detect_error: a cancel shut the file down.
    if (file.shutdown) break;
    t = migrationRateLimit(ctx, t);
    urgent = false; // no postcopy page requests: the sleep is never cut short
    if (t === t0) t += LOOP_MIN_NS;
    yield env.timeout(t - env.now);
  }
  migrationIterationFinish(ctx, t);
}

/**
 * migration_iteration_run (migration.c:3754): iterate while pending ≥ threshold (and pending ≠ 0), else
 * complete. Only the pending estimate decides; the iterate's return value is ignored. Sets
 * `ctx.s.iterState`; returns the time after.
 */
export function migrationIterationRun(ctx: MigrationContext, t: Ns): Ns {
  const s = ctx.s;
  t = qemuSavevmStatePending(ctx, s.thresholdSize, t);
  if (s.pending !== 0 && s.pending >= s.thresholdSize) {
    t = qemuSavevmStateIterate(ctx, t);
    s.iterState = MIG_ITERATE.RESUME;
    return t;
  }
  // migration_thread_low_pending
  ctx.rec.event(
    ctx.migrationSpan,
    EVENT.switchoverDecision,
    {
      [ATTR.remainingPages]: ctx.ram.migrationDirtyPages,
      [ATTR.thresholdBytes]: s.thresholdSize,
      [ATTR.pendingBytes]: s.pending,
    },
    t,
  );
  s.iterState = MIG_ITERATE.BREAK;
  return t;
}

/**
 * migration_rate_limit (migration.c:3880): close the window if 100 ms passed; if the budget is spent,
 * sleep until the window ends. Returns the time the thread goes on.
 */
export function migrationRateLimit(ctx: MigrationContext, t: Ns): Ns {
  const nowMs = Math.floor(t / MS);
  t = migrationUpdateCounters(ctx, t, nowMs);
  if (ctx.file.rateLimit() && !ctx.file.shutdown) {
    const ms = ctx.s.iterationStartMs + BUFFER_DELAY - nowMs;
    if (ms > 0) {
      const wake = t + ms * MS;
      ctx.counters.rateLimitSleeps++;
      ctx.rec.span(SPAN.rateLimitedSleep, LEVEL.tick, ctx.migrationSpan, t, wake);
      return wake;
    }
  }
  return t;
}

/**
 * migration_update_counters (migration.c:3702): once a window of ≥ 100 ms has passed, bandwidth =
 * bytes written in it / its length (B/ms), threshold = bandwidth × downtime-limit; new window and budget.
 */
export function migrationUpdateCounters(ctx: MigrationContext, t: Ns, nowMs: number): Ns {
  const s = ctx.s;
  if (nowMs < s.iterationStartMs + BUFFER_DELAY) return t;
  t = ctx.file.fflush(t); // qemu_file_total_transferred flushes first
  const transferred = migrationTotalBytes(ctx) - s.iterationInitialBytes;
  const timeSpent = nowMs - s.iterationStartMs;
  const bandwidth = transferred / timeSpent;
  s.bandwidth = bandwidth;
  s.thresholdSize = bandwidth * s.downtimeLimitMs;
  ctx.counters.windows++;
  if (ctx.rec.on(LEVEL.tick))
    ctx.rec.span(SPAN.window, LEVEL.tick, ctx.migrationSpan, s.iterationStartMs * MS, t, {
      [ATTR.bytes]: transferred,
      [ATTR.bandwidthEstimate]: bandwidth * 1000,
      [ATTR.thresholdBytes]: s.thresholdSize,
      [ATTR.xferLimit]: Number.isFinite(ctx.file.rateLimitMax) ? ctx.file.rateLimitMax : 0,
    });
  ctx.file.rateLimitUsed = 0; // qemu_file_reset_rate_limit
  updateIterationInitialStatus(ctx, Math.floor(t / MS));
  return t;
}

/**
 * migration_completion (migration.c:3310): vm_stop (downtime starts), migration_maybe_pause, rate limit
 * off, qemu_savevm_state_complete_precopy, COMPLETED. Returns the time the last byte was written.
 */
function* migrationCompletion(ctx: MigrationContext, t: Ns): Generator<SimEvent<unknown>, Ns, unknown> {
  const rec = ctx.rec;
  if (ctx.s.state !== MIGRATION_STATUS.ACTIVE) return t;
  // vm_stop_force_state(RUN_STATE_FINISH_MIGRATE): vCPUs stop, then bdrv_drain_all.
  ctx.marks.stopNs = t;
  ctx.mem.advanceTo(t);
  ctx.mem.schedule.stop();
  if (ctx.disk) {
    ctx.disk.advanceTo(t);
    ctx.disk.schedule.stop();
  }
  rec.event(ctx.migrationSpan, EVENT.stop, undefined, t);
  if (ctx.blk.active) t = blkDrain(ctx, t);
  t = yield* migrationMaybePause(ctx, t);
  ctx.marks.deviceNs = t;
  if (ctx.s.state !== MIGRATION_STATUS.ACTIVE && ctx.s.state !== MIGRATION_STATUS.DEVICE) return t;
  ctx.file.rateLimitMax = Number.POSITIVE_INFINITY; // qemu_file_set_rate_limit(f, INT64_MAX)
  const complete = rec.start(SPAN.complete, LEVEL.stage, ctx.migrationSpan, undefined, t);
  const bytes0 = ctx.file.total;
  t = qemuSavevmStateCompletePrecopy(ctx, t);
  rec.end(complete, { [ATTR.bytes]: ctx.file.total - bytes0 }, t);
  ctx.marks.completedNs = t;
  closePass(ctx, t);
  migrateSetState(ctx, MIGRATION_STATUS.COMPLETED, t);
  return t;
}

/**
 * migration_maybe_pause (migration.c): with pause-before-switchover, state PRE_SWITCHOVER and wait on
 * pause_sem for QMP migrate-continue, then DEVICE. Returns the time the thread goes on.
 */
function* migrationMaybePause(ctx: MigrationContext, t: Ns): Generator<SimEvent<unknown>, Ns, unknown> {
  const { env, rec } = ctx;
  if (!ctx.caps.pauseBeforeSwitchover || ctx.s.state === MIGRATION_STATUS.CANCELLING) return t;
  const sem = env.event<Ns>();
  ctx.pauseSem = sem;
  migrateSetState(ctx, MIGRATION_STATUS.PRE_SWITCHOVER, t);
  if (t > env.now) yield env.timeout(t - env.now);
  yield sem;
  ctx.pauseSem = null;
  const woke = Math.max(t, env.now);
  rec.span(SPAN.preSwitchoverWait, LEVEL.stage, ctx.migrationSpan, t, woke);
  if (ctx.s.state === MIGRATION_STATUS.PRE_SWITCHOVER) migrateSetState(ctx, MIGRATION_STATUS.DEVICE, woke);
  return woke;
}

/** qmp_migrate_continue: post pause_sem if the thread waits in PRE_SWITCHOVER. */
export function qmpMigrateContinue(ctx: MigrationContext, t: Ns): void {
  if (ctx.s.state !== MIGRATION_STATUS.PRE_SWITCHOVER || !ctx.pauseSem || ctx.pauseSem.triggered) return;
  ctx.pauseSem.succeed(t, Math.max(0, t - ctx.env.now));
}

/**
 * migrate_fd_cancel: CANCELLING and shut the file down; a thread waiting for migrate-continue is woken.
 * The thread ends at its next check and migrate_fd_cleanup makes it CANCELLED.
 */
export function migrateFdCancel(ctx: MigrationContext, t: Ns): void {
  const st = ctx.s.state;
  if (
    st === MIGRATION_STATUS.COMPLETED ||
    st === MIGRATION_STATUS.CANCELLED ||
    st === MIGRATION_STATUS.FAILED
  )
    return;
  if (st === MIGRATION_STATUS.CANCELLING) return;
  migrateSetState(ctx, MIGRATION_STATUS.CANCELLING, t);
  ctx.file.shutdown = true;
  if (ctx.pauseSem && !ctx.pauseSem.triggered) ctx.pauseSem.succeed(t, Math.max(0, t - ctx.env.now));
  if (!ctx.marks.threadStartNs) {
    // Cancelled before the thread started: cleanup runs from the main loop.
    migrationIterationFinish(ctx, t);
  }
}

/**
 * migration_iteration_finish (migration.c:3786) and the cleanup bottom half: the throttle stops; a
 * cancelled or failed migration leaves the guest running with dirty logging off.
 */
function migrationIterationFinish(ctx: MigrationContext, t: Ns): void {
  ctx.counters.throttleFinalPct = ctx.throttlePct;
  cpuThrottleStop(ctx, t);
  ctx.marks.finishedNs = t;
  if (ctx.s.state === MIGRATION_STATUS.COMPLETED) return;
  ramSaveCleanup(ctx);
  if (ctx.disk) ctx.disk.setTracking(false);
  closePass(ctx, t);
  migrateSetState(
    ctx,
    ctx.s.state === MIGRATION_STATUS.CANCELLING ? MIGRATION_STATUS.CANCELLED : MIGRATION_STATUS.FAILED,
    t,
  );
}
