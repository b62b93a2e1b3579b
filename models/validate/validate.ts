/**
 * The validation pipeline as library calls: collect the real runs a matrix needs (running only what the
 * cache lacks, one at a time), calibrate (or take a stored calibration), simulate every scenario with the
 * page-level model and the fluid baseline, and compute the error tables.
 */
import { performance } from 'node:perf_hooks';
import { readGuestLayout, runsLength } from '../guest/layout.ts';
import type { MigrationResult } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import { simulate } from '../simulate.ts';
import { type FluidHost, type FluidResult, fluidInputFor, fluidMigration } from './baseline-fluid.ts';
import { applyCalibration, type Calibration, type ScenarioRuns, zeroShare } from './calibration.ts';
import {
  apesAgainst,
  type ErrorSummary,
  type Figures,
  METRICS,
  type Metric,
  medianFigures,
  resultFigures,
  spreadApes,
  summarize,
} from './errors.ts';
import { withLayout } from './layouts.ts';
import type { Matrix, MatrixEntry, Subset } from './matrix.ts';
import { type LabRunner, machineNow, type RealRun, readRealRuns, writeRealRun } from './real-cache.ts';

/** Progress of collecting real runs. */
export interface RealProgress {
  done: number;
  total: number;
  entry: MatrixEntry;
  repeat: number;
  run: RealRun | null;
  cached: boolean;
}

/** Options of `collectRealRuns`. */
export interface CollectOptions {
  cacheDir: string;
  repeats: number;
  /** Run what is missing with this; null = use only what is cached. */
  runner: LabRunner | null;
  /** Only these entries (default: all). */
  filter?: (e: MatrixEntry) => boolean;
  onProgress?: (p: RealProgress) => void;
  signal?: AbortSignal;
}

/**
 * The real runs of every entry: cached repeats first, then missing ones run one after another. A run that
 * fails in the lab (not a migration outcome: QEMU crashed, RAM differed) is tried once more before it is
 * stored as failed.
 */
export async function collectRealRuns(matrix: Matrix, opts: CollectOptions): Promise<ScenarioRuns[]> {
  const entries = matrix.entries.filter(opts.filter ?? (() => true));
  const total = entries.length * opts.repeats;
  let done = 0;
  const out: ScenarioRuns[] = [];
  for (const entry of entries) {
    const cached = readRealRuns(opts.cacheDir, entry.key);
    const reals: RealRun[] = [];
    for (let r = 0; r < opts.repeats; r++) {
      if (opts.signal?.aborted) break;
      let run = cached.find((x) => x.repeat === r) ?? null;
      const wasCached = run !== null;
      if (!run && opts.runner) {
        let trace: string | null = null;
        for (let attempt = 0; attempt < 2; attempt++) {
          const m = machineNow();
          const t0 = performance.now();
          const outcome = await opts.runner(entry.scenario);
          const result = outcome.result;
          trace = outcome.trace;
          run = {
            key: entry.key,
            repeat: r,
            ...m,
            wallS: Number(((performance.now() - t0) / 1000).toFixed(2)),
            result,
          };
          if (result.outcome !== 'failed' || opts.signal?.aborted) break;
        }
        if (run && !(run.result.outcome === 'cancelled' && opts.signal?.aborted))
          writeRealRun(opts.cacheDir, run, trace);
        else run = null;
      }
      done++;
      if (run) reals.push(run);
      opts.onProgress?.({ done, total, entry, repeat: r, run, cached: wasCached });
    }
    out.push({ entry, reals });
  }
  return out;
}

/** The figures of a prediction and its outcome. */
export interface Prediction {
  outcome: string;
  figures: Figures;
}

/** Per metric: the error summary of a predictor against the real repeats. */
export type MetricErrors = Record<Metric, ErrorSummary>;

/** One scenario's row of the validation. */
export interface ScenarioValidation {
  name: string;
  subset: Subset;
  key: string;
  params: Record<string, unknown>;
  /** The real repeats' figures (completed or not) and outcomes. */
  real: {
    repeats: number;
    outcomes: string[];
    median: Figures;
    figures: Figures[];
    /** Diagnostics: median setup time, ZERO and full pages, bytes sent with the guest stopped. */
    setupTimeMs: number | null;
    pagesUniform: number | null;
    pagesNormal: number | null;
    downtimeBytes: number | null;
    guestRateMiBps: number | null;
    loadavg1: number[];
  };
  sim: Prediction & {
    setupTimeMs: number | null;
    pagesUniform: number;
    pagesNormal: number;
    lastIterationBytes: number | null;
    uniformPageFraction: number;
  };
  fluid: Prediction;
  /**
   * What-if, not a model: the simulation with the calibration's measured setup time in place of the
   * model's (QEMU 7.2's first dirty-bitmap sync under TCG costs ~5 µs per page; the model's sync cost is
   * per GiB and paid at every sync). Shows how much of the total-time error that one mechanism explains.
   */
  simSetup: Prediction;
  errors: { sim: MetricErrors; fluid: MetricErrors; simSetup: MetricErrors; spread: MetricErrors };
  /** Whether sim and fluid agree with the real runs' majority outcome. */
  outcomeMatch: { sim: boolean; fluid: boolean };
}

/** Overall errors of one subset (every scenario × repeat pair pooled). */
export interface SubsetValidation {
  scenarios: number;
  pairs: number;
  sim: MetricErrors;
  fluid: MetricErrors;
  simSetup: MetricErrors;
  spread: MetricErrors;
  /** Median over scenarios of each scenario's own median APE (each scenario weighs the same). */
  simPerScenarioP50: Record<Metric, number | null>;
}

/** A whole validation: what validation.json holds. */
export interface Validation {
  format: 'migscope-validation/1';
  matrix: { name: string; file: string; description: string; repeats: number };
  createdAt: string;
  calibration: Calibration;
  scenarios: ScenarioValidation[];
  overall: Record<Subset | 'all', SubsetValidation>;
  /** 1-min load averages when the real runs started: min, median, max. */
  loadavg1: [number, number, number] | null;
}

/** What the fluid baseline takes from a calibration. */
export function fluidHostFor(c: Calibration): FluidHost {
  return {
    linkBps: (c.network.bandwidthMbps * 1e6) / 8,
    firstPassBytes: (s: Scenario) => {
      const pages = Math.round(s.vm.memoryMiB * 256);
      const wss = s.workload.kind === 'idle' ? 0 : Math.min(pages, Math.round(s.workload.wssMiB * 256));
      // The same zero pages as the page-level model: the measured guest's when there is a layout.
      const measured = s.vm.layout ? readGuestLayout(s.vm.layout).zero : null;
      const zero = measured ? runsLength(measured) : Math.round(zeroShare(s, c) * (pages - wss));
      return zero * 9 + (pages - zero) * 4104;
    },
    rateFactor: c.guest.rateFactor,
    setupMs: c.fixed.setupMs,
    switchoverMs: c.host.deviceSaveMs,
  };
}

/** The page-level simulation of an entry under a calibration. */
export function simulateEntry(
  entry: MatrixEntry,
  c: Calibration,
  granularity: 'none' | 'iteration' = 'none',
) {
  const scn = applyCalibration(withLayout(entry), c);
  return { scenario: scn, ...simulate(scn, { granularity, trackVersions: granularity !== 'none' }) };
}

/** The fluid baseline's prediction for an entry. */
export function fluidEntry(entry: MatrixEntry, c: Calibration): FluidResult {
  return fluidMigration(fluidInputFor(withLayout(entry), fluidHostFor(c)));
}

function errorsOf(apes: Record<Metric, (number | null)[]>): MetricErrors {
  const out = {} as MetricErrors;
  for (const m of METRICS) out[m] = summarize(apes[m]);
  return out;
}

const majority = (xs: string[]): string => {
  const n = new Map<string, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
};

function medianOf(xs: (number | null | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return null;
  const h = (v.length - 1) / 2;
  return (v[Math.floor(h)]! + v[Math.ceil(h)]!) / 2;
}

/** Validate one scenario: its sim and fluid predictions against its real repeats. */
export function validateScenario(
  runs: ScenarioRuns,
  c: Calibration,
  sim?: MigrationResult,
): ScenarioValidation {
  const { entry } = runs;
  // Lab failures (a QEMU crash, differing RAM) are not migrations: they are reported, not compared.
  const reals = runs.reals.filter((x) => x.result.outcome !== 'failed');
  const realFigs = reals.map((x) => resultFigures(x.result));
  const simResult = sim ?? simulateEntry(entry, c).result;
  const simFig = resultFigures(simResult);
  const fl = fluidEntry(entry, c);
  const flFig: Figures = {
    totalTimeMs: fl.totalTimeMs,
    bytes: fl.bytes - fl.blockBytes,
    downtimeMs: fl.downtimeMs,
    iterations: fl.iterations,
  };
  const ssFig: Figures = {
    ...simFig,
    totalTimeMs: simFig.totalTimeMs! + Math.max(0, c.fixed.setupMs - (simResult.setupTimeMs ?? 0)),
  };
  const realOutcome = majority(reals.map((x) => x.result.outcome));
  const last = simResult.iterations[simResult.iterations.length - 1];
  return {
    name: entry.name,
    subset: entry.subset,
    key: entry.key,
    params: entry.params,
    real: {
      repeats: runs.reals.length,
      outcomes: runs.reals.map((x) => x.result.outcome),
      median: medianFigures(realFigs),
      figures: realFigs,
      setupTimeMs: medianOf(reals.map((x) => x.result.setupTimeMs)),
      pagesUniform: medianOf(reals.map((x) => x.result.pages.uniform)),
      pagesNormal: medianOf(reals.map((x) => x.result.pages.normal)),
      downtimeBytes: medianOf(reals.map((x) => x.result.extra.downtimeBytes as number | null)),
      guestRateMiBps: medianOf(reals.map((x) => x.result.extra.guestRateMiBps as number | null)),
      loadavg1: runs.reals.map((x) => x.loadavg[0]),
    },
    sim: {
      outcome: simResult.outcome,
      figures: simFig,
      setupTimeMs: simResult.setupTimeMs,
      pagesUniform: simResult.pages.uniform,
      pagesNormal: simResult.pages.normal,
      lastIterationBytes: last ? last.bytes : null,
      uniformPageFraction: Number(applyCalibration(withLayout(entry), c).vm.uniformPageFraction.toFixed(4)),
    },
    fluid: { outcome: fl.outcome, figures: flFig },
    simSetup: { outcome: simResult.outcome, figures: ssFig },
    errors: {
      sim: errorsOf(apesAgainst(simFig, realFigs)),
      fluid: errorsOf(apesAgainst(flFig, realFigs)),
      simSetup: errorsOf(apesAgainst(ssFig, realFigs)),
      spread: errorsOf(spreadApes(realFigs)),
    },
    outcomeMatch: { sim: simResult.outcome === realOutcome, fluid: fl.outcome === realOutcome },
  };
}

/** Pool the APEs of a set of scenarios (recomputed from the figures, every scenario × repeat pair). */
export function summarizeSubset(rows: ScenarioValidation[]): SubsetValidation {
  const pool = (pick: (r: ScenarioValidation) => Record<Metric, (number | null)[]>) => {
    const all = {} as Record<Metric, (number | null)[]>;
    for (const m of METRICS) all[m] = [];
    for (const r of rows) {
      const a = pick(r);
      for (const m of METRICS) all[m].push(...a[m]);
    }
    return errorsOf(all);
  };
  const simPer = {} as Record<Metric, number | null>;
  for (const m of METRICS) simPer[m] = medianOf(rows.map((r) => r.errors.sim[m].p50));
  return {
    scenarios: rows.length,
    pairs: rows.reduce((n, r) => n + r.real.figures.length, 0),
    sim: pool((r) => apesAgainst(r.sim.figures, r.real.figures)),
    fluid: pool((r) => apesAgainst(r.fluid.figures, r.real.figures)),
    simSetup: pool((r) => apesAgainst(r.simSetup.figures, r.real.figures)),
    spread: pool((r) => spreadApes(r.real.figures)),
    simPerScenarioP50: simPer,
  };
}

/** Validate a matrix whose real runs are collected. */
export function validateMatrix(matrix: Matrix, runs: ScenarioRuns[], c: Calibration): Validation {
  const rows = runs.filter((r) => r.reals.length > 0).map((r) => validateScenario(r, c));
  const loads = runs.flatMap((r) => r.reals.map((x) => x.loadavg[0])).sort((a, b) => a - b);
  return {
    format: 'migscope-validation/1',
    matrix: {
      name: matrix.name,
      file: matrix.file,
      description: matrix.description,
      repeats: matrix.repeats,
    },
    createdAt: new Date().toISOString(),
    calibration: c,
    scenarios: rows,
    overall: {
      calibration: summarizeSubset(rows.filter((r) => r.subset === 'calibration')),
      test: summarizeSubset(rows.filter((r) => r.subset === 'test')),
      all: summarizeSubset(rows),
    },
    loadavg1: loads.length ? [loads[0]!, medianOf(loads)!, loads[loads.length - 1]!] : null,
  };
}
