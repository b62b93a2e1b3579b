/**
 * A fluid pre-copy model in the style of SimGrid's VM live-migration plugin (src/plugins/vm/
 * VmLiveMigration.cpp; anchors.md §1a): stage 1 sends all of RAM at a fixed bandwidth; each stage-2 round
 * sends what the guest dirtied during the previous round (a fixed rate, capped at the working set); pre-copy
 * stops once the dirtied bytes fit in bandwidth × downtime limit, and stage 3 sends them with the guest
 * stopped. No pages, no 100 ms windows, no bitmap syncs: the baseline the page-level model must beat.
 */
import type { Scenario } from '../scenario.ts';

/** Inputs of the fluid model, in bytes, seconds and milliseconds. */
export interface FluidInput {
  /** Bytes of the first full pass (all of RAM as the wire carries it, plus the disk for block migration). */
  stage1Bytes: number;
  /** The part of stage 1 that is disk (block migration), for reporting RAM bytes apart. Default 0. */
  stage1BlockBytes?: number;
  /** Migration bandwidth, bytes/s (the rate cap, or the measured throughput when that is lower). */
  bandwidthBps: number;
  /** Bytes dirtied per second of guest time, as the wire carries them. */
  dirtyRateBps: number;
  /** Most bytes a round can find dirty (SimGrid's working_set_memory). */
  workingSetBytes: number;
  downtimeLimitMs: number;
  /** Give up after this long (outcome timeout), seconds. */
  timeoutS: number;
  /** Fixed time before stage 1 (migration setup), ms. Default 0. */
  setupMs?: number;
  /** Fixed switchover cost added to the stop-and-copy time (device state, completion), ms. Default 0. */
  switchoverMs?: number;
}

/** One round of the fluid model. */
export interface FluidRound {
  /** 1 = the full pass, then stage-2 rounds, the last one being the stop-and-copy. */
  stage: 1 | 2 | 3;
  startMs: number;
  endMs: number;
  bytes: number;
}

/** The fluid model's prediction. */
export interface FluidResult {
  outcome: 'completed' | 'timeout';
  totalTimeMs: number;
  downtimeMs: number | null;
  bytes: number;
  /** Of `bytes`, the disk's (sent in stage 1, RAM and disk in proportion when cut short). */
  blockBytes: number;
  /**
   * Dirty-bitmap syncs as QEMU 7.2 counts them (dirty-sync-count): one at setup, one per convergence
   * check (after stage 1 and after each stage-2 round), one at completion.
   */
  iterations: number;
  rounds: FluidRound[];
}

/** Run the fluid model. */
export function fluidMigration(inp: FluidInput): FluidResult {
  if (!(inp.bandwidthBps > 0))
    throw new RangeError(`fluidMigration: bandwidthBps must be > 0 (got ${inp.bandwidthBps})`);
  const bw = inp.bandwidthBps;
  const timeoutMs = inp.timeoutS * 1000;
  const threshold = bw * (inp.downtimeLimitMs / 1000);
  const rounds: FluidRound[] = [];
  let t = inp.setupMs ?? 0;
  let bytes = 0;
  let checks = 0;
  // Send `b` bytes starting at t; false when the timeout cuts it short.
  const send = (stage: 1 | 2 | 3, b: number, limitMs: number): boolean => {
    const dur = (b / bw) * 1000;
    if (t + dur > limitMs) {
      const part = Math.max(0, ((limitMs - t) / 1000) * bw);
      rounds.push({ stage, startMs: t, endMs: limitMs, bytes: part });
      bytes += part;
      t = limitMs;
      return false;
    }
    rounds.push({ stage, startMs: t, endMs: t + dur, bytes: b });
    bytes += b;
    t += dur;
    return true;
  };
  const stage1Block = (): number => {
    const first = rounds[0];
    const blk = inp.stage1BlockBytes ?? 0;
    return first && inp.stage1Bytes > 0 ? (blk * first.bytes) / inp.stage1Bytes : 0;
  };
  const timeout = (): FluidResult => ({
    outcome: 'timeout',
    totalTimeMs: timeoutMs,
    downtimeMs: null,
    bytes,
    blockBytes: stage1Block(),
    iterations: 1 + checks,
    rounds,
  });
  let start = t;
  if (!send(1, inp.stage1Bytes, timeoutMs)) return timeout();
  for (;;) {
    const dirtied = Math.min(inp.workingSetBytes, (inp.dirtyRateBps * (t - start)) / 1000);
    checks++;
    if (dirtied <= threshold) {
      // Stage 3: the guest is stopped; the timeout no longer applies (QEMU does not cancel a switchover).
      const stop = t;
      send(3, dirtied, Number.POSITIVE_INFINITY);
      t += inp.switchoverMs ?? 0;
      return {
        outcome: 'completed',
        totalTimeMs: t,
        downtimeMs: t - stop,
        bytes,
        blockBytes: stage1Block(),
        iterations: 2 + checks,
        rounds,
      };
    }
    start = t;
    if (!send(2, dirtied, timeoutMs)) return timeout();
  }
}

/** Host figures the fluid model takes from a calibration (the same ones the page-level model gets). */
export interface FluidHost {
  /** Effective migration throughput when max-bandwidth is unlimited (loopback under TCG), bytes/s. */
  linkBps: number;
  /** Wire bytes of the first pass per RAM page, given the guest's zero pages (9 B) and data pages (4104 B). */
  firstPassBytes: (s: Scenario) => number;
  /** Guest page writes per nominal one (TCG slows the guest). */
  rateFactor: number;
  setupMs: number;
  switchoverMs: number;
}

const MIB = 1024 * 1024;

/** The fluid model's inputs for a scenario: bandwidth = min(max-bandwidth, link), SimGrid's stop rule. */
export function fluidInputFor(s: Scenario, host: FluidHost): FluidInput {
  const cap =
    s.migration.maxBandwidthMiBps > 0 ? s.migration.maxBandwidthMiBps * MIB : Number.POSITIVE_INFINITY;
  const idle = s.workload.kind === 'idle';
  const wire = 4104 / 4096;
  const disk = s.disk?.migrate ? s.disk.sizeMiB * MIB : 0;
  return {
    stage1Bytes: host.firstPassBytes(s) + disk,
    stage1BlockBytes: disk,
    bandwidthBps: Math.min(cap, host.linkBps),
    dirtyRateBps: idle ? 0 : s.workload.dirtyRateMiBps * host.rateFactor * MIB * wire,
    workingSetBytes: idle ? 0 : s.workload.wssMiB * MIB * wire,
    downtimeLimitMs: s.migration.downtimeLimitMs,
    timeoutS: s.migration.timeoutS,
    setupMs: host.setupMs,
    switchoverMs: host.switchoverMs,
  };
}
