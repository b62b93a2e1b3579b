/**
 * The qemu-kvm 0.12.3 model (with libvirt 0.7.7 in front of it, or a bare monitor client): builds the
 * migration context from a scenario, runs it on a fresh environment and returns result.json's record.
 */
import type { Span } from '@opentelemetry/api';
import { Environment } from '../../sim/env.ts';
import { anyOf, type ProcessBody, type SimEvent } from '../../sim/events.ts';
import { EventLoop } from '../../sim/resources/event-loop.ts';
import { LEVEL, type SpanRecorder } from '../../sim/span-recorder.ts';
import { msToNs, type Ns, nsToMs, S } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import {
  deliveryCheck,
  emptyCopy,
  guestDiskFromScenario,
  guestMemoryFromScenario,
} from '../guest/from-scenario.ts';
import { hostCosts } from '../host/costs.ts';
import { migrationSocket } from '../host/network.ts';
import { libvirtMigrate077, type ManagementOutcome, type QemuEndpoints } from '../libvirt-0.7.7/migrate.ts';
import type { MigrationResult } from '../result.ts';
import type { RunOptions } from '../run-options.ts';
import type { Scenario } from '../scenario.ts';
import { BlockMigState } from './block-migration.ts';
import { BufferedFile } from './buffered-file.ts';
import { MIG_STATE } from './constants.ts';
import type { MigrationContext } from './context.ts';
import { doMigrate, migrateFdCancel } from './migration.ts';
import { QEMUFile, SECTION } from './qemu-file.ts';
import { RamState } from './ram.ts';

export const MODEL = 'qemu-0.12.3';

export type { RunOptions };

function buildContext(
  env: Environment,
  rec: SpanRecorder,
  scn: Scenario,
  trackVersions: boolean,
): MigrationContext {
  const mem = guestMemoryFromScenario(scn, trackVersions);
  const disk = guestDiskFromScenario(scn);
  const migrateDisk = disk !== null && scn.disk!.migrate;
  const ctx = {
    env,
    rec,
    scn,
    costs: hostCosts(scn),
    mainLoop: new EventLoop(env),
    socket: migrationSocket(scn),
    mem,
    disk,
    dest: {
      pageVersion: trackVersions ? emptyCopy(mem.pages) : null,
      chunkVersion: trackVersions && migrateDisk ? emptyCopy(disk!.chunks) : null,
    },
    ram: new RamState(mem.pages),
    blk: new BlockMigState(disk ? disk.chunks : 0),
    maxDowntimeNs: msToNs(scn.migration.downtimeLimitMs),
    state: MIG_STATE.COMPLETED,
    migrationSpan: rec.start(SPAN.migration, LEVEL.stage), // replaced when `migrate` runs
    iterations: [],
    counters: { ticks: 0, ticksSkippedFrozen: 0, freezes: 0, kvmLapSyncs: 0 },
    marks: {
      migrateNs: 0,
      connectedNs: null,
      firstByteNs: null,
      stopNs: null,
      completeEndNs: null,
      closedNs: null,
      finishedNs: null,
      handlerStartNs: 0,
    },
    onFinished: () => {},
  } as unknown as MigrationContext;
  // bytes/s: migrate_set_speed "<N>m" is N × 2^20.
  ctx.bf = new BufferedFile(ctx, scn.migration.maxBandwidthMiBps * 1024 * 1024);
  ctx.file = new QEMUFile(ctx.bf);
  return ctx;
}

/** The two QEMU processes as libvirt (or a bare client) sees them. */
function endpoints(ctx: MigrationContext, finished: SimEvent<Ns>): QemuEndpoints {
  const { env, rec } = ctx;
  const half = ctx.costs.monitorRttNs / 2;
  const command = (name: string, parent: Span, run: (t: Ns) => Ns = (t) => t): SimEvent<Ns> => {
    const span = rec.start(SPAN.monitorCommand, LEVEL.stage, parent, { [ATTR.monitorCommand]: name });
    const done = env.event<Ns>();
    ctx.mainLoop.post((start) => {
      const end = run(start);
      const reply = end + half;
      rec.end(span, undefined, reply);
      done.succeed(reply, reply - env.now);
      return end;
    }, env.now + half);
    return done;
  };
  return {
    sourceCommand: command,
    migrate: (parent) => {
      const uri = 'tcp:dst:49152';
      return command(
        `migrate -d ${ctx.blk.active || ctx.scn.disk?.migrate ? '-b ' : ''}"${uri}"`,
        parent,
        (t) => {
          ctx.migrationSpan = rec.start(SPAN.migration, LEVEL.stage, parent, { [ATTR.uri]: uri }, t);
          return doMigrate(ctx, t, ctx.scn.disk?.migrate ?? false);
        },
      );
    },
    cancel: (parent) => command('migrate_cancel', parent, (t) => migrateFdCancel(ctx, t)),
    finished,
    completed: () => ctx.state === MIG_STATE.COMPLETED,
    completionHandlerStartNs: () => ctx.marks.handlerStartNs,
    destinationLoadedNs: () => destinationLoaded(ctx),
  };
}

/** The destination loads the stream as it arrives; it is done when the last byte is in and devices load. */
function destinationLoaded(ctx: MigrationContext): Ns {
  return ctx.socket.timeAllDelivered(ctx.marks.closedNs!) + ctx.costs.deviceLoadNs;
}

/** A bare monitor client: `migrate`, wait, cancel at the timeout; the destination starts by itself. */
function* directMigrate(ctx: MigrationContext, qemu: QemuEndpoints): ProcessBody<ManagementOutcome> {
  const { env } = ctx;
  const root = ctx.rec.start(SPAN.monitorCommand, LEVEL.stage, undefined, {
    [ATTR.monitorCommand]: 'session',
  });
  yield qemu.migrate(root);
  const deadline = ctx.marks.migrateNs + Math.round(ctx.scn.migration.timeoutS * S);
  yield anyOf(env, [qemu.finished, env.timeout(Math.max(0, deadline - env.now))]);
  let outcome: ManagementOutcome['outcome'] = 'completed';
  if (!qemu.finished.processed) {
    yield qemu.cancel(root);
    outcome = 'timeout';
  } else if (!qemu.completed()) outcome = 'failed';
  const running = outcome === 'completed' ? qemu.destinationLoadedNs() : null;
  if (running !== null && running > env.now) yield env.timeout(running - env.now);
  ctx.rec.end(root);
  return { outcome, destinationRunningNs: running, detectedNs: qemu.finished.value ?? env.now, polls: 0 };
}

/** Simulate one migration under qemu-kvm 0.12.3. */
export function simulate(scn: Scenario, opts: RunOptions): MigrationResult {
  const env = new Environment();
  const rec = opts.rec(env);
  const ctx = buildContext(env, rec, scn, opts.trackVersions);
  const finished = env.event<Ns>();
  ctx.onFinished = (t) => {
    ctx.marks.finishedNs = t;
    finished.succeed(t, t - env.now);
  };
  const qemu = endpoints(ctx, finished);
  const driver = scn.libvirt.enabled ? libvirtMigrate077(env, rec, scn, qemu) : directMigrate(ctx, qemu);
  const proc = env.process(driver, 'management');
  const mgmt = env.run(proc) as ManagementOutcome;
  env.run(); // let the last handlers (timers that see the state) drain
  return assemble(ctx, mgmt);
}

function assemble(ctx: MigrationContext, mgmt: ManagementOutcome): MigrationResult {
  const { scn, marks, rec } = ctx;
  const completed = mgmt.outcome === 'completed';
  const endNs = marks.finishedNs ?? ctx.env.now;
  const downtimeNs = completed && marks.stopNs !== null ? mgmt.destinationRunningNs! - marks.stopNs : null;
  if (completed && marks.stopNs !== null) {
    const dt = rec.start(SPAN.downtime, LEVEL.stage, ctx.migrationSpan, undefined, marks.stopNs);
    rec.event(dt, EVENT.resume, undefined, mgmt.destinationRunningNs!);
    rec.end(dt, undefined, mgmt.destinationRunningNs!);
  }
  rec.end(
    ctx.migrationSpan,
    {
      [ATTR.outcome]: mgmt.outcome,
      [ATTR.bytes]: ctx.file.total,
      [ATTR.pagesNormal]: ctx.ram.pagesNormal,
      [ATTR.pagesUniform]: ctx.ram.pagesUniform,
    },
    endNs,
  );
  const loaded = completed ? destinationLoaded(ctx) : null;
  const delivery = completed
    ? deliveryCheck({ pages: ctx.mem.version, chunks: ctx.disk?.version ?? null }, ctx.dest)
    : null;
  const by = ctx.file.bySection;
  return {
    source: 'sim',
    model: MODEL,
    scenario: scn,
    outcome: mgmt.outcome,
    converged: completed,
    message: completed
      ? null
      : mgmt.outcome === 'timeout'
        ? `did not converge within ${scn.migration.timeoutS} s (remaining ${ctx.ram.dirtyPages} dirty pages); cancelled`
        : 'migration failed',
    totalTimeMs: nsToMs(endNs - marks.migrateNs),
    downtimeMs: downtimeNs === null ? null : nsToMs(downtimeNs),
    setupTimeMs: marks.firstByteNs === null ? null : nsToMs(marks.firstByteNs - marks.migrateNs),
    bytes: {
      total: ctx.file.total,
      ram: by[SECTION.ram]!,
      block: by[SECTION.block]!,
      device: by[SECTION.device]!,
    },
    pages: { normal: ctx.ram.pagesNormal, uniform: ctx.ram.pagesUniform },
    iterations: ctx.iterations,
    downtimeBreakdown: {
      finalPassMs: completed ? nsToMs(marks.completeEndNs! - marks.stopNs!) : null,
      drainMs: completed ? nsToMs(marks.closedNs! - marks.completeEndNs!) : null,
      loadMs: completed ? nsToMs(loaded! - marks.closedNs!) : null,
      managementMs: completed ? nsToMs(mgmt.destinationRunningNs! - loaded!) : null,
    },
    extra: {
      ticks: ctx.counters.ticks,
      ticksSkippedFrozen: ctx.counters.ticksSkippedFrozen,
      freezes: ctx.counters.freezes,
      kvmLapSyncs: ctx.counters.kvmLapSyncs,
      libvirtPolls: mgmt.polls,
      blockChunksSent: ctx.blk.chunksSent,
      blockDirtyChunksAtStage3: ctx.blk.dirtyChunksSentInStage3,
      guestPageWrites: ctx.mem.schedule.k,
      detectedMs: nsToMs(mgmt.detectedNs),
    },
    delivery,
  };
}
