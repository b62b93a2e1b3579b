/**
 * The open dataset of paired simulated and real runs: one JSON line per scenario with its lab parameters,
 * the page-level simulation, the fluid baseline and every real repeat, each with its per-iteration series
 * as compact tuples (test/fixtures/validate/dataset/README.md describes every field).
 */
import { basename } from 'node:path';
import { parsePageRuns, readGuestLayout, runPages } from '../guest/layout.ts';
import type { IterationRecord, MigrationResult } from '../result.ts';
import type { Calibration, ScenarioRuns } from './calibration.ts';
import { resultFigures } from './errors.ts';
import { fluidEntry, simulateEntry } from './validate.ts';

/** Dataset format tag (first field of every line). */
export const DATASET_FORMAT = 'migscope-validation-dataset/1';

/** Column names of an iteration tuple. */
export const ITERATION_FIELDS = [
  'index',
  'startMs',
  'endMs',
  'bytes',
  'pagesSent',
  'dirtyPagesAtSync',
  'remainingPages',
  'bandwidthEstimateBps',
] as const;

const r1 = (x: number) => Math.round(x * 10) / 10;

/** An iteration as a tuple in ITERATION_FIELDS order. */
export function iterationTuple(it: IterationRecord): (number | null)[] {
  return [
    it.index,
    r1(it.startMs),
    r1(it.endMs),
    it.bytes,
    it.pagesSent,
    it.dirtyPagesAtSync,
    it.remainingPages,
    it.bandwidthEstimate === null ? null : Math.round(it.bandwidthEstimate),
  ];
}

function runRecord(r: MigrationResult) {
  const f = resultFigures(r);
  return {
    outcome: r.outcome,
    totalTimeMs: r1(r.totalTimeMs),
    downtimeMs: f.downtimeMs === null ? null : r1(f.downtimeMs),
    setupTimeMs: r.setupTimeMs === null ? null : r1(r.setupTimeMs),
    bytes: f.bytes,
    bytesRam: r.bytes.ram,
    bytesBlock: r.bytes.block,
    pagesNormal: r.pages.normal,
    pagesUniform: r.pages.uniform,
    syncs: f.iterations,
    iterations: r.iterations.map(iterationTuple),
  };
}

/** How many of a real run's working-set pages the measured layout also has there (null: not recorded). */
function pagesOnLayout(placement: unknown, layout: string | null | undefined): number | null {
  if (typeof placement !== 'string' || !placement || !layout) return null;
  const runs = parsePageRuns(placement);
  const placed = new Set(runPages(readGuestLayout(layout).placement));
  return runPages(runs).filter((p) => placed.has(p)).length;
}

/** One dataset line (an object; `datasetJsonl` serialises it). */
export function datasetRecord(runs: ScenarioRuns, c: Calibration, matrix: string) {
  const { entry } = runs;
  const s = entry.scenario;
  const sim = simulateEntry(entry, c);
  const fl = fluidEntry(entry, c);
  return {
    format: DATASET_FORMAT,
    matrix,
    scenario: entry.name,
    subset: entry.subset,
    key: entry.key,
    lab: {
      seed: s.seed,
      memoryMiB: s.vm.memoryMiB,
      vcpus: s.vm.vcpus,
      workload: s.workload.kind,
      wssMiB: s.workload.wssMiB,
      dirtyRateMiBps: s.workload.dirtyRateMiBps,
      zipfS: s.workload.zipfS,
      diskWriteMiBps: s.workload.diskWriteMiBps,
      disk: s.disk,
      maxBandwidthMiBps: s.migration.maxBandwidthMiBps,
      downtimeLimitMs: s.migration.downtimeLimitMs,
      capabilities: s.migration.capabilities,
      timeoutS: s.migration.timeoutS,
      // The measured guest layout the simulation started from (a file of the matrix's layouts: directory).
      layout: entry.layout ? basename(entry.layout) : null,
    },
    calibration: c.name,
    sim: {
      ...runRecord(sim.result),
      uniformPageFraction: Number(sim.scenario.vm.uniformPageFraction.toFixed(4)),
    },
    fluid: {
      outcome: fl.outcome,
      totalTimeMs: r1(fl.totalTimeMs),
      downtimeMs: fl.downtimeMs === null ? null : r1(fl.downtimeMs),
      bytes: Math.round(fl.bytes - fl.blockBytes),
      bytesBlock: Math.round(fl.blockBytes),
      syncs: fl.iterations,
      rounds: fl.rounds.map((x) => [x.stage, r1(x.startMs), r1(x.endMs), Math.round(x.bytes)]),
    },
    real: runs.reals.map((x) => ({
      repeat: x.repeat,
      measuredAt: x.measuredAt,
      loadavg1: Number(x.loadavg[0].toFixed(2)),
      qemu: x.result.extra.qemuVersion ?? null,
      guestRateMiBps: x.result.extra.guestRateMiBps ?? null,
      downtimeBytes: x.result.extra.downtimeBytes ?? null,
      throttleMaxPct: x.result.extra.cpuThrottlePercentMax ?? null,
      wssPagesOnLayout: pagesOnLayout(x.result.extra.wssPlacement, entry.layout),
      ...runRecord(x.result),
    })),
  };
}

/** The dataset as JSON Lines, one scenario per line, in matrix order. */
export function datasetJsonl(runs: ScenarioRuns[], c: Calibration, matrix: string): string {
  return runs
    .filter((r) => r.reals.length > 0)
    .map((r) => JSON.stringify(datasetRecord(r, c, matrix)))
    .join('\n')
    .concat('\n');
}
