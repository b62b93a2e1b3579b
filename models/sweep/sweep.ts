/**
 * Running, resuming, sharding and collecting a sweep: the library behind `migscope sweep`. An output
 * folder holds results.jsonl (the store), shards/I-of-N.jsonl (one per Slurm array task), results.csv,
 * and for Slurm sweep.sbatch and logs/. Every entry point first reads what is stored and computes only the
 * missing keys, so running again after a crash, a kill or a partial Slurm job is how to resume.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../sim/errors.ts';
import { runPool } from '../../sim/sweep/pool.ts';
import { createProgress, type ProgressStream } from '../../sim/sweep/progress.ts';
import {
  batchScript,
  type JobEnd,
  listShards,
  mergeStores,
  ownsRun,
  shardFile,
  submit,
  TASK_INDEX,
  waitForJob,
} from '../../sim/sweep/slurm.ts';
import { type RecordRank, type RunRecord, StoreWriter, writeStoreAtomic } from '../../sim/sweep/store.ts';
import { simulatorBuild } from './build.ts';
import { sweepCsv } from './export.ts';
import { type PlannedRun, planSweep } from './plan.ts';
import type { SweepSpec } from './spec.ts';
import type { SweepOutput } from './task.ts';

/** A stored run of a migscope sweep. */
export type SweepRecord = RunRecord<SweepOutput> & {
  params: Record<string, unknown>;
  repeat: number;
  seed: number;
  /** The simulator build that computed it (./build.ts). */
  build: string;
  invalid?: true;
};

/** The store file of an output folder. */
export const storeFile = (outDir: string): string => join(outDir, 'results.jsonl');
/** The CSV file of an output folder. */
export const csvFile = (outDir: string): string => join(outDir, 'results.csv');

const TASK_MODULE = new URL('./task.ts', import.meta.url).href;

/** Options of `runSweep`. */
export interface RunSweepOptions {
  outDir: string;
  /** Worker threads; 0 runs in this thread. */
  workers: number;
  /** Run only share `index` of `of` (a Slurm array task), into its own shard store. */
  shard?: { index: number; of: number };
  /** Rerun stored failures too (crashed workers are always rerun). */
  retryFailed?: boolean;
  /** Where the progress goes; null for none. */
  progress?: ProgressStream | null;
  /** Stop handing out runs; runs in flight finish and are stored. */
  signal?: AbortSignal;
  /** The simulator build to record and to trust; default `simulatorBuild()`. */
  build?: string;
}

/** What a `runSweep` did. */
export interface RunSweepSummary {
  /** Runs in the sweep. */
  total: number;
  /** Runs this call was responsible for (all, or its shard's). */
  owned: number;
  /** Of those, already stored. */
  stored: number;
  /** Of those not stored, how many had a record from another simulator build (recomputed). */
  stale: number;
  /** Computed (or recorded as invalid) now; fewer than were missing when interrupted. */
  computed: number;
  /** Of those computed now, failed. */
  failed: number;
  /** The file appended to. */
  file: string;
}

function storesOf(outDir: string): string[] {
  return [storeFile(outDir), ...listShards(outDir)];
}

/** The store and every shard of an output folder, merged: one record per key, this build's first. */
export function readSweepStores(outDir: string, build: string = simulatorBuild()) {
  return mergeStores<SweepOutput>(storesOf(outDir), rankFor(build));
}

/** Per key, keep a record of this build over one of another, then a success over a failure. */
export function rankFor(build: string): RecordRank {
  return (r) => (r.build === build ? 2 : 0) + (r.status === 'ok' ? 1 : 0);
}

/** Whether a stored record counts as done (not to be rerun). */
function isDone(rec: RunRecord | undefined, retryFailed: boolean, build: string): boolean {
  if (!rec || rec.build !== build) return false;
  if (rec.status === 'ok') return true;
  return !rec.crashed && !retryFailed;
}

function recordOf(
  run: PlannedRun,
  build: string,
  outcome: { ok: true; output: SweepOutput } | { ok: false; error: string; crashed?: boolean },
): SweepRecord {
  const base = { key: run.key, params: run.params, repeat: run.repeat, seed: run.seed, build };
  if (outcome.ok) return { ...base, status: 'ok', output: outcome.output };
  return { ...base, status: 'error', error: outcome.error, ...(outcome.crashed ? { crashed: true } : {}) };
}

/** Run the missing runs of a sweep (or of one shard), appending each to the store as it finishes. */
export async function runSweep(spec: SweepSpec, opts: RunSweepOptions): Promise<RunSweepSummary> {
  const plan = planSweep(spec);
  const owned = opts.shard ? plan.filter((r) => ownsRun(r.index, opts.shard!.index, opts.shard!.of)) : plan;
  const build = opts.build ?? simulatorBuild();
  const { byKey } = readSweepStores(opts.outDir, build);
  const todo: PlannedRun[] = [];
  const queued = new Set<string>();
  let stored = 0;
  let stale = 0;
  for (const run of owned) {
    const rec = byKey.get(run.key);
    if (isDone(rec, opts.retryFailed === true, build)) stored++;
    else if (!queued.has(run.key)) {
      if (rec && rec.build !== build) stale++;
      queued.add(run.key);
      todo.push(run);
    } else stored++;
  }
  const file = opts.shard ? shardFile(opts.outDir, opts.shard.index, opts.shard.of) : storeFile(opts.outDir);
  const writer = new StoreWriter(file);
  const progress = opts.progress
    ? createProgress({
        total: owned.length,
        skipped: stored,
        stream: opts.progress,
        label: `sweep ${spec.name}`,
      })
    : null;
  let failed = 0;
  let computed = 0;
  const done = (run: PlannedRun, outcome: Parameters<typeof recordOf>[2]) => {
    const rec = recordOf(run, build, outcome);
    if (run.invalid) rec.invalid = true;
    writer.append(rec);
    computed++;
    if (!outcome.ok) failed++;
    progress?.tick(!outcome.ok);
  };
  try {
    const runnable: PlannedRun[] = [];
    for (const run of todo) {
      if (run.invalid) done(run, { ok: false, error: run.invalid });
      else runnable.push(run);
    }
    await runPool<unknown, SweepOutput>(
      runnable.map((r, i) => ({ id: i, input: r.scenario })),
      { module: TASK_MODULE, workers: opts.workers, signal: opts.signal },
      (id, outcome) => done(runnable[id]!, outcome),
    );
  } finally {
    writer.close();
    progress?.finish();
  }
  if (!opts.shard && !opts.signal?.aborted) collectSweep(spec, opts.outDir, { plan, build });
  return { total: plan.length, owned: owned.length, stored, stale, computed, failed, file };
}

/** What `collectSweep` found. */
export interface CollectSummary {
  total: number;
  /** Runs of the sweep with a stored record. */
  stored: number;
  failed: number;
  /** Stored runs whose only record is from another simulator build (rerun to recompute them). */
  stale: number;
  /** Runs without a record yet (rerun to fill them). */
  missing: number;
  /** Stored records of runs that are not in the sweep (kept, at the end of the store). */
  foreign: number;
  /** Lines skipped while reading (torn tails of killed writers, corruption), per file. */
  skipped: { file: string; lines: number }[];
}

/**
 * Merge the store and every shard into results.jsonl (sweep order, one record per key, written
 * atomically), and write results.csv. Idempotent; shards are kept.
 */
export function collectSweep(
  spec: SweepSpec,
  outDir: string,
  opts: { plan?: PlannedRun[]; build?: string } = {},
): CollectSummary {
  const plan = opts.plan ?? planSweep(spec);
  const build = opts.build ?? simulatorBuild();
  const { byKey, skipped } = readSweepStores(outDir, build);
  const ordered: RunRecord[] = [];
  const inPlan = new Set<string>();
  let failed = 0;
  let stale = 0;
  for (const run of plan) {
    if (inPlan.has(run.key)) continue;
    inPlan.add(run.key);
    const rec = byKey.get(run.key);
    if (!rec) continue;
    ordered.push(rec);
    if (rec.status !== 'ok') failed++;
    if (rec.build !== build) stale++;
  }
  const foreign = [...byKey.keys()].filter((k) => !inPlan.has(k)).sort();
  for (const k of foreign) ordered.push(byKey.get(k)!);
  mkdirSync(outDir, { recursive: true });
  writeStoreAtomic(storeFile(outDir), ordered);
  writeFileSync(
    csvFile(outDir),
    sweepCsv(
      spec.design.parameters.map((p) => p.path),
      plan,
      byKey,
    ),
  );
  const stored = plan.filter((r) => byKey.has(r.key)).length;
  return {
    total: plan.length,
    stored,
    failed,
    stale,
    missing: plan.length - stored,
    foreign: foreign.length,
    skipped,
  };
}

/** Options of `sbatchSweep`. */
export interface SbatchOptions {
  outDir: string;
  /** Array tasks; default min(runs, 100). */
  tasks?: number;
  maxRunning?: number;
  cpusPerTask?: number;
  partition?: string;
  timeLimit?: string;
  /** Block until the job ends (polling squeue), then collect. */
  wait?: boolean;
  /** Write the script but do not submit it. */
  dryRun?: boolean;
}

/** What `sbatchSweep` did. */
export interface SbatchSummary {
  script: string;
  tasks: number;
  jobId: string | null;
  /** With `wait`: how the array tasks ended. */
  end: JobEnd | null;
  collected: CollectSummary | null;
}

const MIGSCOPE = fileURLToPath(new URL('../../migscope.js', import.meta.url));

/** Write DIR/sweep.sbatch (a job array whose task I runs `migscope sweep run --index I --of N`) and submit it. */
export async function sbatchSweep(spec: SweepSpec, opts: SbatchOptions): Promise<SbatchSummary> {
  const outDir = resolve(opts.outDir);
  const plan = planSweep(spec);
  const tasks = Math.max(1, Math.min(plan.length, opts.tasks ?? 100));
  const cpus = opts.cpusPerTask ?? 1;
  mkdirSync(join(outDir, 'logs'), { recursive: true });
  mkdirSync(join(outDir, 'shards'), { recursive: true });
  const script = join(outDir, 'sweep.sbatch');
  const command = [
    process.execPath,
    MIGSCOPE,
    'sweep',
    'run',
    spec.file,
    '--out',
    outDir,
    '--index',
    TASK_INDEX,
    '--of',
    String(tasks),
    '--workers',
    String(cpus),
  ];
  writeFileSync(
    script,
    batchScript({
      jobName: `migscope-${spec.name}`,
      tasks,
      maxRunning: opts.maxRunning,
      cpusPerTask: cpus,
      logDir: join(outDir, 'logs'),
      workdir: outDir,
      command,
      partition: opts.partition,
      timeLimit: opts.timeLimit,
    }),
  );
  if (opts.dryRun) return { script, tasks, jobId: null, end: null, collected: null };
  let jobId: string;
  try {
    jobId = await submit(script);
  } catch (err) {
    // Slurm refusing the job (no such partition, array too large, no sbatch here) is the user's to fix.
    throw new UsageError(`${(err as Error).message} (script: ${script})`);
  }
  if (!opts.wait) return { script, tasks, jobId, end: null, collected: null };
  const end = await waitForJob(jobId);
  return { script, tasks, jobId, end, collected: collectSweep(spec, outDir, { plan }) };
}
