/**
 * The QEMU 7.2 model (with libvirt 9.0 in front of it, or a bare QMP client): builds the migration
 * context from a scenario, runs it on a fresh environment and returns result.json's record.
 */
import type { Span } from '@opentelemetry/api';
import { Environment } from '../../sim/env.ts';
import { anyOf, type ProcessBody, type SimEvent } from '../../sim/events.ts';
import { Pipe } from '../../sim/resources/pipe.ts';
import { LEVEL, type SpanRecorder } from '../../sim/span-recorder.ts';
import { MS, msToNs, type Ns, nsToMs, S } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import {
  deliveryCheck,
  emptyCopy,
  guestDiskFromScenario,
  guestMemoryFromScenario,
} from '../guest/from-scenario.ts';
import { hostCosts } from '../host/costs.ts';
import { libvirtMigrate90, type ManagementOutcome90, type QemuEndpoints90 } from '../libvirt-9.0/migrate.ts';
import type { MigrationResult } from '../result.ts';
import type { RunOptions } from '../run-options.ts';
import type { Scenario } from '../scenario.ts';
import { BlkMigState } from './block.ts';
import { MIGRATION_STATUS, MIGRATION_STATUS_NAME } from './constants.ts';
import type { MigrationContext } from './context.ts';
import { MIG_ITERATE, migrateFdCancel, qmpMigrate, qmpMigrateContinue } from './migration.ts';
import { MultiFDSendState } from './multifd.ts';
import { QEMUFile, SECTION } from './qemu-file.ts';
import { RAMState } from './ram.ts';
import { XbzrleState } from './xbzrle.ts';

/** The model's name in scenarios and results. */
export const MODEL = 'qemu-7.2';

export type { RunOptions };

function buildContext(
  env: Environment,
  rec: SpanRecorder,
  scn: Scenario,
  trackVersions: boolean,
): MigrationContext {
  const capList = scn.migration.capabilities;
  const caps = {
    autoConverge: capList.includes('auto-converge'),
    xbzrle: capList.includes('xbzrle'),
    multifd: capList.includes('multifd'),
    zeroBlocks: capList.includes('zero-blocks'),
    block: scn.disk?.migrate === true,
    pauseBeforeSwitchover: scn.libvirt.enabled,
  };
  // XBZRLE needs every page's write count to size its deltas, even when delivery is not checked.
  const mem = guestMemoryFromScenario(scn, trackVersions || caps.xbzrle);
  const disk = guestDiskFromScenario(scn);
  const channels = caps.multifd ? scn.migration.multifdChannels : 0;
  const link = new Pipe(
    (scn.network.bandwidthMbps * 1e6) / 8,
    Number.POSITIVE_INFINITY,
    Math.round(msToNs(scn.network.rttMs) / 2),
  );
  const sendBuffer = scn.network.sendBufferKiB * 1024 * (1 + channels);
  const maxBandwidth =
    scn.migration.maxBandwidthMiBps === 0
      ? Number.POSITIVE_INFINITY
      : scn.migration.maxBandwidthMiBps * 1024 * 1024;
  const ctx: MigrationContext = {
    env,
    rec,
    scn,
    costs: hostCosts(scn),
    caps,
    link,
    sendBuffer,
    mem,
    disk,
    dest: {
      pageVersion: trackVersions ? emptyCopy(mem.pages) : null,
      chunkVersion: trackVersions && caps.block && disk ? emptyCopy(disk.chunks) : null,
    },
    file: new QEMUFile(link, sendBuffer, maxBandwidth / 10),
    s: {
      state: MIGRATION_STATUS.NONE,
      iterationStartMs: 0,
      iterationInitialBytes: 0,
      thresholdSize: 0,
      bandwidth: null,
      downtimeLimitMs: scn.migration.downtimeLimitMs,
      maxBandwidth,
      pending: 0,
      iterState: MIG_ITERATE.RESUME,
    },
    ram: new RAMState(mem.pages),
    blk: new BlkMigState(disk ? disk.chunks : 0, scn.disk ? scn.disk.allocatedMiB : 0),
    multifd: caps.multifd ? new MultiFDSendState(channels) : null,
    xbzrle: caps.xbzrle ? new XbzrleState(scn.migration.xbzrleCacheMiB * 1024 * 1024) : null,
    throttlePct: 0,
    pauseSem: null,
    migrationSpan: rec.start(SPAN.migration, LEVEL.stage), // replaced by qmp_migrate
    passSpan: null,
    iterations: [],
    counters: {
      windows: 0,
      rateLimitSleeps: 0,
      iterateCalls: 0,
      bigWaits: 0,
      throttleSteps: 0,
      throttleHistory: [],
      throttleFinalPct: 0,
    },
    marks: {
      migrateNs: 0,
      threadStartNs: null,
      activeNs: null,
      stopNs: null,
      deviceNs: null,
      completedNs: null,
      finishedNs: null,
    },
    onState: () => {},
  };
  ctx.blk.active = caps.block && disk !== null;
  return ctx;
}

/** When the destination has loaded the stream: the last byte in, then the device state loaded. */
function destinationLoaded(ctx: MigrationContext): Ns {
  return ctx.link.timeAllDelivered(ctx.marks.completedNs!) + ctx.costs.deviceLoadNs;
}

/** The two QEMU processes as a QMP client (libvirt or bare) sees them. */
function endpoints(ctx: MigrationContext): QemuEndpoints90 {
  const { env, rec } = ctx;
  const half = ctx.costs.monitorRttNs / 2;
  // MIGRATION events as the client receives them, half a monitor round trip after QEMU sends them.
  const log: Array<{ name: string; at: Ns }> = [];
  let cursor = 0;
  let waiter: { statuses: readonly string[]; ev: SimEvent<string> } | null = null;
  const deliver = (): void => {
    if (!waiter) return;
    while (cursor < log.length) {
      const e = log[cursor++]!;
      if (waiter.statuses.includes(e.name)) {
        const w = waiter;
        waiter = null;
        w.ev.succeed(e.name, Math.max(0, e.at - env.now));
        return;
      }
    }
  };
  ctx.onState = (state, t) => {
    log.push({ name: MIGRATION_STATUS_NAME[state]!, at: t + half });
    deliver();
  };
  const qmp = (side: string, name: string, parent: Span, run?: (t: Ns) => void): SimEvent<Ns> => {
    const span = rec.start(SPAN.monitorCommand, LEVEL.stage, parent, {
      [ATTR.monitorCommand]: name,
      [ATTR.monitorSide]: side,
    });
    const done = env.event<Ns>();
    const arrive = env.timeout(half);
    arrive.callbacks!.push(() => {
      run?.(env.now);
      const reply = env.now + half;
      rec.end(span, undefined, reply);
      done.succeed(reply, half);
    });
    return done;
  };
  return {
    qmp,
    migrate: (uri, parent) => qmp('source', 'migrate', parent, (t) => qmpMigrate(ctx, t, uri, parent)),
    migrateContinue: (parent) => qmp('source', 'migrate-continue', parent, (t) => qmpMigrateContinue(ctx, t)),
    cancel: (parent) => qmp('source', 'migrate_cancel', parent, (t) => migrateFdCancel(ctx, t)),
    waitForStatus: (statuses) => {
      const ev = env.event<string>();
      waiter = { statuses, ev };
      deliver();
      return ev;
    },
    destinationLoadedNs: () => destinationLoaded(ctx),
    multifd: ctx.caps.multifd,
  };
}

/** A bare QMP client: `migrate tcp:`, wait for the end, cancel at the timeout; the destination autostarts. */
function* directMigrate(ctx: MigrationContext, qemu: QemuEndpoints90): ProcessBody<ManagementOutcome90> {
  const { env, scn } = ctx;
  const root = ctx.rec.start(SPAN.monitorCommand, LEVEL.stage, undefined, {
    [ATTR.monitorCommand]: 'session',
  });
  if (scn.migration.capabilities.length > 0) yield qemu.qmp('source', 'migrate-set-capabilities', root);
  yield qemu.qmp('source', 'migrate-set-parameters', root);
  yield qemu.migrate('tcp:dst:4444', root);
  const deadline = ctx.marks.migrateNs + Math.round(scn.migration.timeoutS * S);
  const ev = qemu.waitForStatus(['completed', 'failed', 'cancelled']);
  yield anyOf(env, [ev, env.timeout(Math.max(0, deadline - env.now))]);
  let timedOut = false;
  if (!ev.processed) {
    timedOut = true;
    yield qemu.cancel(root);
    yield ev;
  }
  const status = ev.value!;
  const outcome: ManagementOutcome90['outcome'] =
    status === 'completed'
      ? 'completed'
      : timedOut
        ? 'timeout'
        : status === 'cancelled'
          ? 'cancelled'
          : 'failed';
  const running = outcome === 'completed' ? qemu.destinationLoadedNs() : null;
  if (running !== null && running > env.now) yield env.timeout(running - env.now);
  ctx.rec.end(root, { [ATTR.outcome]: outcome });
  return { outcome, destinationRunningNs: running, detectedNs: env.now };
}

/** Simulate one migration under QEMU 7.2. */
export function simulate(scn: Scenario, opts: RunOptions): MigrationResult {
  const env = new Environment();
  const rec = opts.rec(env);
  const ctx = buildContext(env, rec, scn, opts.trackVersions);
  const qemu = endpoints(ctx);
  const driver = scn.libvirt.enabled ? libvirtMigrate90(env, rec, scn, qemu) : directMigrate(ctx, qemu);
  const mgmt = env.run(env.process(driver, 'management')) as ManagementOutcome90;
  env.run(); // let the migration thread finish its last turn
  return assemble(ctx, mgmt);
}

function assemble(ctx: MigrationContext, mgmt: ManagementOutcome90): MigrationResult {
  const { scn, marks, rec, file } = ctx;
  const completed = mgmt.outcome === 'completed';
  const endNs = completed ? marks.completedNs! : (marks.finishedNs ?? ctx.env.now);
  const running = mgmt.destinationRunningNs;
  const downtimeNs = completed && marks.stopNs !== null ? running! - marks.stopNs : null;
  const pauseNs = marks.stopNs !== null && marks.deviceNs !== null ? marks.deviceNs - marks.stopNs : 0;
  if (completed && marks.stopNs !== null) {
    const dt = rec.start(SPAN.downtime, LEVEL.stage, ctx.migrationSpan, undefined, marks.stopNs);
    rec.event(dt, EVENT.resume, undefined, running!);
    rec.end(dt, undefined, running!);
  }
  rec.end(
    ctx.migrationSpan,
    {
      [ATTR.outcome]: mgmt.outcome,
      [ATTR.bytes]: file.total,
      [ATTR.pagesNormal]: ctx.ram.pagesNormal,
      [ATTR.pagesUniform]: ctx.ram.pagesZero,
      [ATTR.throttlePercent]: ctx.counters.throttleFinalPct,
    },
    endNs,
  );
  const delivered = completed ? ctx.link.timeAllDelivered(marks.completedNs!) : null;
  const loaded = completed ? destinationLoaded(ctx) : null;
  const delivery = completed
    ? deliveryCheck({ pages: ctx.mem.version, chunks: ctx.disk?.version ?? null }, ctx.dest)
    : null;
  const x = ctx.xbzrle;
  const m = ctx.multifd;
  const by = file.bySection;
  return {
    source: 'sim',
    model: MODEL,
    scenario: scn,
    outcome: mgmt.outcome,
    converged: completed,
    message: completed
      ? null
      : mgmt.outcome === 'timeout'
        ? `did not converge within ${scn.migration.timeoutS} s (remaining ${ctx.ram.migrationDirtyPages} dirty pages, threshold ${Math.round(ctx.s.thresholdSize)} bytes); cancelled`
        : `migration ${mgmt.outcome}`,
    totalTimeMs: nsToMs(endNs - marks.migrateNs),
    downtimeMs: downtimeNs === null ? null : nsToMs(downtimeNs),
    setupTimeMs:
      marks.activeNs === null || marks.threadStartNs === null
        ? null
        : nsToMs(marks.activeNs - marks.threadStartNs),
    bytes: {
      total: file.total,
      ram: by[SECTION.ram]!,
      block: by[SECTION.block]!,
      device: by[SECTION.device]!,
    },
    pages: { normal: ctx.ram.pagesNormal, uniform: ctx.ram.pagesZero },
    iterations: ctx.iterations,
    downtimeBreakdown: {
      finalPassMs: completed ? nsToMs(marks.completedNs! - marks.stopNs! - pauseNs) : null,
      drainMs: completed ? nsToMs(delivered! - marks.completedNs!) : null,
      loadMs: completed ? nsToMs(loaded! - delivered!) : null,
      // libvirt's share: the pre-switchover round trip (inside QEMU's downtime) and Finish3 up to `cont`.
      managementMs: completed ? nsToMs(running! - loaded! + pauseNs) : null,
    },
    extra: {
      qemuDowntimeMs: completed ? Math.round((marks.completedNs! - marks.stopNs!) / MS) : null,
      preSwitchoverWaitMs: nsToMs(pauseNs),
      dirtySyncCount: ctx.ram.dirtySyncCount,
      windows: ctx.counters.windows,
      rateLimitSleeps: ctx.counters.rateLimitSleeps,
      iterateCalls: ctx.counters.iterateCalls,
      maxWaitBreaks: ctx.counters.bigWaits,
      finalThresholdBytes: Math.round(ctx.s.thresholdSize),
      throttleSteps: ctx.counters.throttleSteps,
      throttleFinalPct: ctx.counters.throttleFinalPct,
      throttleHistory: ctx.counters.throttleHistory.join(','),
      xbzrlePages: ctx.ram.pagesXbzrle,
      xbzrleCacheHits: x ? x.pages : 0,
      xbzrleCacheMiss: x ? x.cacheMiss : 0,
      xbzrleOverflows: x ? x.overflow : 0,
      xbzrleSkipped: x ? x.skipped : 0,
      xbzrleBytes: x ? x.bytes : 0,
      xbzrleBytesSaved: x ? x.bytesSaved : 0,
      multifdPackets: m ? m.packets : 0,
      multifdSyncs: m ? m.syncs : 0,
      multifdBytes: m ? m.bytes : 0,
      blockChunksSent: ctx.blk.transferred,
      blockZeroChunks: ctx.blk.zeroBlocks,
      blockDirtyChunksResent: ctx.blk.dirtyResent,
      guestPageWrites: ctx.mem.schedule.k,
      detectedMs: nsToMs(mgmt.detectedNs),
    },
    delivery,
  };
}
