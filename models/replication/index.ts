/**
 * Continuous replication, checkpoint style (qemu-spec.md §6: what a `virsh replicate` would drive; Remus,
 * Kemari, COLO): an initial full synchronisation (pre-copy, initial-sync.ts), then epochs of guest run
 * time, each closed by a checkpoint transaction (checkpoint.ts) that stops the guest, sends the pages it
 * dirtied and the device state at full link speed, and resumes it when the standby acks. An epoch ends
 * after `epochMs` (trigger `periodic`: Remus's interval, COLO's x-checkpoint-delay) or at the guest's next
 * network packet (trigger `output`: Kemari's event-tap), whichever comes first. With output buffering,
 * the guest's network output of an epoch is released at that ack (output-buffer.ts). Failover is
 * evaluated at seeded random instants: what the standby would lack if the primary died there.
 */
import type { Span } from '@opentelemetry/api';
import { Bitmap } from '../../sim/bitmap.ts';
import { Environment } from '../../sim/env.ts';
import type { ProcessBody } from '../../sim/events.ts';
import { createRng } from '../../sim/random.ts';
import { Pipe } from '../../sim/resources/pipe.ts';
import { LEVEL, type SpanRecorder } from '../../sim/span-recorder.ts';
import { MS, msToNs, type Ns, nsToMs, S } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import { emptyCopy, guestMemoryFromScenario, staleCount } from '../guest/from-scenario.ts';
import type { IterationRecord, MigrationResult } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import { checkpointTransaction, commitCheckpoint, resumeGuest } from './checkpoint.ts';
import { NORMAL_PAGE_BYTES, REPLICATION_STREAM } from './constants.ts';
import type { Checkpoint, InitialSync, ReplicationContext } from './context.ts';
import { initialSync } from './initial-sync.ts';
import { OutputStream } from './output-buffer.ts';
import { type Summary, summarize } from './stats.ts';

/** The model's name in results. */
export const MODEL = 'replication';

/** When a checkpoint hook is called: after the last byte is sent (before the ack), or once committed. */
export type CheckpointPhase = 'sent' | 'committed';

/** Options of one simulated replication run. */
export interface RunOptions {
  rec: (env: Environment) => SpanRecorder;
  /** Track a version per page (primary and standby) and check the standby at the end. */
  trackVersions: boolean;
  /** Called at every checkpoint, twice (for tests: the standby's copy around the commit). */
  onCheckpoint?: (cp: Checkpoint, phase: CheckpointPhase, ctx: ReplicationContext) => void;
}

/** What a failover at one instant would lose. */
export interface FailoverSample {
  atNs: Ns;
  /** Time since the last acknowledged checkpoint. */
  sinceAckNs: Ns;
  /** Guest run time after the state the standby holds (lost on failover). */
  lostRunNs: Ns;
  /** Pages whose latest version the standby has not committed. */
  unackedPages: number;
  /** Guest packets produced since that state: held and dropped (buffering) or already out (orphaned). */
  packetsAtRisk: number;
}

/** result.replication: the figures of a replication run (times ms, bytes integers or means of them). */
export interface ReplicationFigures {
  trigger: 'periodic' | 'output';
  epochMs: number;
  durationS: number;
  outputBuffering: boolean;
  ackAfterLoad: boolean;
  /** Checkpoints after the initial synchronisation. */
  epochs: number;
  /** When replication began: the initial synchronisation's checkpoint 0 was acknowledged. */
  startMs: number;
  /** Wall time from startMs to the last ack. */
  wallTimeMs: number;
  initialSync: { passes: number; bytes: number; converged: boolean; timeMs: number; downtimeMs: number };
  /** Guest paused per epoch (vm_stop to resume); `share` of wall time. */
  pauseMs: Summary & { total: number; share: number };
  bytesPerEpoch: Summary & { total: number };
  dirtyPagesPerEpoch: Summary;
  /** Mean replication traffic over the wall time, bytes/s. */
  bandwidthBytesPerS: number;
  /** Guest run time the standby's committed state is behind: time-weighted mean, and max. */
  lagMs: { mean: number; max: number };
  /** Guest packets and how long they waited to leave (0 without buffering). */
  output: { packets: number; releaseDelayMs: Summary };
  /** A failover at seeded random instants of the replication wall time. */
  failover: {
    samples: number;
    sinceAckMs: Summary;
    lostRunMs: Summary;
    unackedPages: Summary;
    unackedBytes: Summary;
    /** Output released that the standby's state does not reflect (0 with buffering). */
    orphanPackets: Summary;
    /** Held output lost with the primary (0 without buffering; TCP retransmits it). */
    droppedHeldPackets: Summary;
  };
}

/** One epoch checkpoint in result.iterations (the contract's fields, plus the run phase and pause). */
export interface EpochRecord extends IterationRecord {
  runStartMs: number;
  pauseMs: number;
  packets: number;
}

/** result.json of a replication run: the migration contract plus `replication`. */
export interface ReplicationResult extends MigrationResult {
  iterations: EpochRecord[];
  replication: ReplicationFigures | null;
}

interface RunRecord {
  init: InitialSync;
  checkpoints: Checkpoint[];
  samples: FailoverSample[];
  output: OutputStream;
}

function buildContext(env: Environment, rec: SpanRecorder, scn: Scenario, trackVersions: boolean) {
  const params = scn.replication!;
  const mem = guestMemoryFromScenario(scn, trackVersions);
  const ctx: ReplicationContext = {
    env,
    rec,
    scn,
    params,
    costs: {
      pageCopyNs: scn.host.pageCopyNs,
      bitmapSyncNs: Math.round((scn.host.bitmapSyncNsPerGiB * scn.vm.memoryMiB) / 1024),
      deviceSaveNs: msToNs(scn.host.deviceSaveMs),
      deviceLoadNs: msToNs(scn.host.deviceLoadMs),
    },
    // Unbounded queue: writes are offered in time order and block down to the send buffer (flush).
    link: new Pipe(
      (scn.network.bandwidthMbps * 1e6) / 8,
      Number.POSITIVE_INFINITY,
      Math.round(msToNs(scn.network.rttMs) / 2),
    ),
    sendBuffer: scn.network.sendBufferKiB * 1024,
    staged: 0,
    mem,
    standby: {
      pageVersion: trackVersions ? emptyCopy(mem.pages) : null,
      inFlight: new Int32Array(mem.pages),
      inFlightCount: 0,
    },
    bitmap: new Bitmap(mem.pages),
    dirtyPages: 0,
    counters: { bytesRam: 0, bytesDevice: 0, pagesNormal: 0, pagesUniform: 0 },
    span: rec.start(
      SPAN.replication,
      LEVEL.stage,
      undefined,
      { [ATTR.epochMs]: params.epochMs, [ATTR.outputBuffering]: params.outputBuffering },
      0,
    ),
  };
  return ctx;
}

/** Run checkpoint `index` from `t`, commit it at the ack and resume the guest; records its spans. */
function runCheckpoint(
  ctx: ReplicationContext,
  opts: RunOptions,
  index: number,
  runStartNs: Ns,
  t: Ns,
  packets: number,
  parent: Span,
): Checkpoint {
  const cp = checkpointTransaction(ctx, index, runStartNs, t, packets);
  opts.onCheckpoint?.(cp, 'sent', ctx);
  commitCheckpoint(ctx);
  resumeGuest(ctx, cp.ackNs);
  opts.onCheckpoint?.(cp, 'committed', ctx);
  const { rec } = ctx;
  const span = rec.start(
    SPAN.replicationCheckpoint,
    LEVEL.iteration,
    parent,
    { [ATTR.epoch]: index, [ATTR.dirtyPages]: cp.dirtyPagesAtSync },
    cp.stopNs,
  );
  rec.event(span, EVENT.stop, undefined, cp.stopNs);
  if (rec.on(LEVEL.tick)) {
    rec.span(SPAN.dirtySync, LEVEL.tick, span, cp.stopNs, cp.syncedNs, {
      [ATTR.dirtyPages]: cp.dirtyPagesAtSync,
    });
    rec.span(SPAN.replicationCheckpointSend, LEVEL.tick, span, cp.syncedNs, cp.sentNs, {
      [ATTR.bytes]: cp.bytes,
      [ATTR.pagesSent]: cp.pagesSent,
    });
    rec.span(SPAN.replicationAckWait, LEVEL.tick, span, cp.sentNs, cp.ackNs);
  }
  rec.event(span, EVENT.checkpointAck, undefined, cp.ackNs);
  rec.event(span, EVENT.resume, undefined, cp.ackNs);
  rec.end(
    span,
    { [ATTR.bytes]: cp.bytes, [ATTR.pagesSent]: cp.pagesSent, [ATTR.pauseMs]: nsToMs(cp.ackNs - cp.stopNs) },
    cp.ackNs,
  );
  return cp;
}

/** The replication thread: initial synchronisation, then epochs until durationS of wall time have passed. */
function* replicate(ctx: ReplicationContext, opts: RunOptions): ProcessBody<RunRecord> {
  const { env, rec, mem, params, scn } = ctx;
  const output = new OutputStream(scn.seed, params.outputPacketsPerS, params.outputBuffering);
  const checkpoints: Checkpoint[] = [];
  const samples: FailoverSample[] = [];
  const syncSpan = rec.start(SPAN.replicationInitialSync, LEVEL.stage, ctx.span, undefined, 0);
  const init = yield* initialSync(ctx, syncSpan);
  if (!init.converged) {
    rec.end(syncSpan, { [ATTR.converged]: false }, init.endNs);
    return { init, checkpoints, samples, output };
  }
  // The stop-and-copy that completes the synchronisation is checkpoint 0.
  const cp0 = runCheckpoint(ctx, opts, 0, init.endNs, init.endNs, 0, syncSpan);
  checkpoints.push(cp0);
  rec.end(syncSpan, { [ATTR.converged]: true, [ATTR.bytes]: init.bytes + cp0.bytes }, cp0.ackNs);
  if (cp0.ackNs > env.now) yield env.timeout(cp0.ackNs - env.now);

  const startNs = cp0.ackNs;
  const endNs = startNs + Math.round(params.durationS * S);
  // Failover instants, uniform over the replication wall time, evaluated in time order as it unfolds.
  const rng = createRng(scn.seed, REPLICATION_STREAM.failover);
  const instants = new Float64Array(params.failoverSamples);
  for (let i = 0; i < instants.length; i++)
    instants[i] = startNs + Math.floor(rng.float() * (endNs - startNs));
  instants.sort();
  let si = 0;

  const epochNs = Math.round(params.epochMs * MS);
  let runStart = startNs;
  for (let k = 1; runStart < endNs; k++) {
    // Periodic (Remus, COLO's timer): after epochMs of run time. Output-triggered (Kemari's event-tap): at
    // the guest's next packet, which waits in the buffer for this checkpoint; epochMs at most.
    const timer = Math.min(runStart + epochNs, endNs);
    const stop = params.trigger === 'output' ? Math.min(timer, output.nextPacketAt(runStart)) : timer;
    const epoch = rec.start(SPAN.replicationEpoch, LEVEL.iteration, ctx.span, { [ATTR.epoch]: k }, runStart);
    rec.span(SPAN.replicationRun, LEVEL.tick, epoch, runStart, stop);
    output.run(runStart, stop, params.trigger === 'output');
    // A failover while the guest runs: it loses everything since it last resumed.
    for (; si < instants.length && instants[si]! < stop; si++) {
      const f = instants[si]!;
      mem.advanceTo(f);
      samples.push({
        atNs: f,
        sinceAckNs: f - runStart,
        lostRunNs: f - runStart,
        unackedPages: mem.logged,
        packetsAtRisk: output.pendingUpTo(f),
      });
    }
    const cp = runCheckpoint(ctx, opts, k, runStart, stop, output.pending.length, epoch);
    checkpoints.push(cp);
    // A failover during the checkpoint: the standby discards the half-received one.
    for (; si < instants.length && instants[si]! < cp.ackNs; si++) {
      const f = instants[si]!;
      samples.push({
        atNs: f,
        sinceAckNs: f - runStart,
        lostRunNs: stop - runStart,
        unackedPages: cp.pagesSent,
        packetsAtRisk: output.pending.length,
      });
    }
    const released = output.release(cp.ackNs);
    if (params.outputBuffering)
      rec.event(epoch, EVENT.outputRelease, { [ATTR.heldPackets]: released }, cp.ackNs);
    rec.end(
      epoch,
      {
        [ATTR.bytes]: cp.bytes,
        [ATTR.pauseMs]: nsToMs(cp.ackNs - cp.stopNs),
        [ATTR.heldPackets]: params.outputBuffering ? released : 0,
      },
      cp.ackNs,
    );
    if (cp.ackNs > env.now) yield env.timeout(cp.ackNs - env.now);
    runStart = cp.ackNs;
  }
  return { init, checkpoints, samples, output };
}

/** Simulate a replication run of a scenario with a `replication` section. */
export function simulate(scn: Scenario, opts: RunOptions): ReplicationResult {
  if (!scn.replication) throw new Error('replication.simulate: the scenario has no replication section');
  const env = new Environment();
  const rec = opts.rec(env);
  const ctx = buildContext(env, rec, scn, opts.trackVersions);
  const run = env.run(env.process(replicate(ctx, opts), 'replication')) as RunRecord;
  return assemble(ctx, run);
}

/**
 * The standby's lag: guest run time its committed state is behind (what a failover would lose). Over an
 * epoch of run time e and pause p it grows from 0 to e while the guest runs and stays at e during the
 * pause: time-weighted mean Σ(e²/2 + e·p) / Σ(e + p) over the epochs, and max e.
 */
function lag(epochs: readonly Checkpoint[]): { mean: number; max: number } {
  let area = 0;
  let wall = 0;
  let max = 0;
  for (const cp of epochs) {
    const e = cp.stopNs - cp.runStartNs;
    const p = cp.ackNs - cp.stopNs;
    area += (e * e) / 2 + e * p;
    wall += e + p;
    if (e > max) max = e;
  }
  return { mean: wall > 0 ? nsToMs(area / wall) : 0, max: nsToMs(max) };
}

function assemble(ctx: ReplicationContext, run: RunRecord): ReplicationResult {
  const { scn, params, mem, rec, counters } = ctx;
  const { init, checkpoints, samples, output } = run;
  const completed = init.converged;
  const endNs = completed ? checkpoints.at(-1)!.ackNs : init.endNs;
  const epochs = checkpoints.slice(1);
  const pause = (cp: Checkpoint) => cp.ackNs - cp.stopNs;
  let longest: Checkpoint | null = null;
  for (const cp of checkpoints) if (!longest || pause(cp) > pause(longest)) longest = cp;
  const total = counters.bytesRam + counters.bytesDevice;
  rec.end(ctx.span, { [ATTR.outcome]: completed ? 'completed' : 'timeout', [ATTR.bytes]: total }, endNs);

  let figures: ReplicationFigures | null = null;
  if (completed) {
    const cp0 = checkpoints[0]!;
    const wallNs = endNs - cp0.ackNs;
    const pauses = epochs.map(pause);
    const pauseTotal = pauses.reduce((a, b) => a + b, 0);
    const epochBytes = epochs.map((cp) => cp.bytes);
    const bytesTotal = epochBytes.reduce((a, b) => a + b, 0);
    const ms = 1 / MS;
    figures = {
      trigger: params.trigger,
      epochMs: params.epochMs,
      durationS: params.durationS,
      outputBuffering: params.outputBuffering,
      ackAfterLoad: params.ackAfterLoad,
      epochs: epochs.length,
      startMs: nsToMs(cp0.ackNs),
      wallTimeMs: nsToMs(wallNs),
      initialSync: {
        passes: init.passes,
        bytes: init.bytes + cp0.bytes,
        converged: true,
        timeMs: nsToMs(cp0.ackNs),
        downtimeMs: nsToMs(pause(cp0)),
      },
      pauseMs: {
        ...summarize(pauses, ms),
        total: nsToMs(pauseTotal),
        share: wallNs > 0 ? pauseTotal / wallNs : 0,
      },
      bytesPerEpoch: { ...summarize(epochBytes), total: bytesTotal },
      dirtyPagesPerEpoch: summarize(epochs.map((cp) => cp.dirtyPagesAtSync)),
      bandwidthBytesPerS: wallNs > 0 ? (bytesTotal * S) / wallNs : 0,
      lagMs: lag(epochs),
      output: { packets: output.delays.length, releaseDelayMs: summarize(output.delays, ms) },
      failover: {
        samples: samples.length,
        sinceAckMs: summarize(
          samples.map((x) => x.sinceAckNs),
          ms,
        ),
        lostRunMs: summarize(
          samples.map((x) => x.lostRunNs),
          ms,
        ),
        unackedPages: summarize(samples.map((x) => x.unackedPages)),
        unackedBytes: summarize(samples.map((x) => x.unackedPages * NORMAL_PAGE_BYTES)),
        orphanPackets: summarize(samples.map((x) => (params.outputBuffering ? 0 : x.packetsAtRisk))),
        droppedHeldPackets: summarize(samples.map((x) => (params.outputBuffering ? x.packetsAtRisk : 0))),
      },
    };
  }

  const iterations: EpochRecord[] = epochs.map((cp) => ({
    index: cp.index,
    startMs: nsToMs(cp.stopNs),
    endMs: nsToMs(cp.ackNs),
    bytes: cp.bytes,
    pagesSent: cp.pagesSent,
    dirtyPagesAtSync: cp.dirtyPagesAtSync,
    remainingPages: 0,
    bandwidthEstimate: null,
    runStartMs: nsToMs(cp.runStartNs),
    pauseMs: nsToMs(pause(cp)),
    packets: cp.packets,
  }));
  const standby = ctx.standby.pageVersion;
  return {
    source: 'sim',
    model: MODEL,
    scenario: scn,
    outcome: completed ? 'completed' : 'timeout',
    converged: completed,
    message: completed
      ? null
      : `initial synchronisation did not converge within ${scn.migration.timeoutS} s (${ctx.dirtyPages} dirty pages left); replication did not start`,
    totalTimeMs: nsToMs(endNs),
    // The longest the guest was stopped at a stretch (checkpoint 0 or an epoch).
    downtimeMs: longest ? nsToMs(pause(longest)) : null,
    setupTimeMs: nsToMs(2 * ctx.link.latencyNs),
    bytes: { total, ram: counters.bytesRam, block: 0, device: counters.bytesDevice },
    pages: { normal: counters.pagesNormal, uniform: counters.pagesUniform },
    iterations,
    downtimeBreakdown: {
      finalPassMs: longest ? nsToMs(longest.sentNs - longest.stopNs) : null,
      drainMs: longest ? nsToMs(longest.arrivedNs - longest.sentNs) : null,
      // The standby's load (with ackAfterLoad) and the ack's trip back.
      loadMs: longest ? nsToMs(longest.ackNs - longest.arrivedNs) : null,
      managementMs: null,
    },
    extra: {
      mode: 'checkpoint',
      longestPauseEpoch: longest ? longest.index : null,
      initialSyncPasses: init.passes,
      guestPageWrites: mem.schedule.k,
    },
    delivery:
      completed && standby && mem.version
        ? { checked: true, pagesStale: staleCount(mem.version, standby), chunksStale: 0 }
        : null,
    replication: figures,
  };
}
