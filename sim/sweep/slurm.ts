/**
 * Slurm job arrays: a batch script whose array task I runs share I of N of a sweep and appends to its own
 * shard store in a shared folder; `collectShards` merges the shards. Resuming is submitting again: every
 * task skips the keys that are already stored.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { latestByKey, type RunRecord, readStore } from './store.ts';

/** The placeholder, in a batch command, for the array task index. */
export const TASK_INDEX = '{index}';

/** Options of `batchScript`. */
export interface BatchOptions {
  jobName: string;
  /** Array tasks (0 .. tasks-1). */
  tasks: number;
  /** At most this many tasks at once (`%K`); default no limit. */
  maxRunning?: number;
  cpusPerTask: number;
  /** Folder for the per-task logs (%A_%a.out). */
  logDir: string;
  /** Folder the tasks run in. */
  workdir: string;
  /** argv of each task; `{index}` becomes $SLURM_ARRAY_TASK_ID. */
  command: string[];
  /** --time, e.g. 1:00:00. */
  timeLimit?: string;
  partition?: string;
  /** Environment for the tasks. */
  env?: Record<string, string>;
}

/** Single-quote for sh, unless the word is plainly safe. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The text of an sbatch script for a job array. */
export function batchScript(o: BatchOptions): string {
  if (!Number.isInteger(o.tasks) || o.tasks < 1)
    throw new RangeError(`batchScript: tasks must be >= 1 (got ${o.tasks})`);
  const array = `0-${o.tasks - 1}${o.maxRunning ? `%${o.maxRunning}` : ''}`;
  const lines = [
    '#!/bin/sh',
    `#SBATCH --job-name=${shellQuote(o.jobName)}`,
    `#SBATCH --array=${array}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${o.cpusPerTask}`,
    `#SBATCH --output=${join(o.logDir, '%A_%a.out')}`,
  ];
  if (o.timeLimit) lines.push(`#SBATCH --time=${o.timeLimit}`);
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  lines.push('set -e', `cd ${shellQuote(o.workdir)}`);
  for (const [k, v] of Object.entries(o.env ?? {})) lines.push(`export ${k}=${shellQuote(v)}`);
  const argv = o.command.map((w) => (w === TASK_INDEX ? '"$SLURM_ARRAY_TASK_ID"' : shellQuote(w)));
  lines.push(`exec ${argv.join(' ')}`, '');
  return lines.join('\n');
}

/**
 * Submit a batch script; resolves to the job id. With `wait`, resolves when every task has ended, with
 * sbatch's exit code (non-zero when a task failed).
 */
export function submit(
  scriptPath: string,
  opts: { wait?: boolean; sbatch?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ jobId: string; exitCode: number }> {
  const args = ['--parsable', ...(opts.wait ? ['--wait'] : []), scriptPath];
  return new Promise((resolve, reject) => {
    const p = spawn(opts.sbatch ?? 'sbatch', args, {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', (e) => reject(new Error(`cannot run sbatch: ${e.message}`)));
    p.on('close', (code) => {
      const id = out.trim().split('\n')[0]?.split(';')[0] ?? '';
      if (id && /^\d+$/.test(id) && (code === 0 || opts.wait)) resolve({ jobId: id, exitCode: code ?? -1 });
      else reject(new Error(`sbatch exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** The shard store of task `index` of `of`. */
export function shardFile(dir: string, index: number, of: number): string {
  return join(dir, 'shards', `${index}-of-${of}.jsonl`);
}

/** Every shard store in `dir`, sorted by name. */
export function listShards(dir: string): string[] {
  const d = join(dir, 'shards');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(d, f));
}

/** What merging stores found. */
export interface MergeReport<O> {
  /** Key → kept record (successes beat failures). */
  byKey: Map<string, RunRecord<O>>;
  /** Lines skipped as not records, per file (torn tails included). */
  skipped: { file: string; lines: number }[];
}

/** Read and merge stores (e.g. the main store and every shard); idempotent. */
export function mergeStores<O>(files: readonly string[]): MergeReport<O> {
  const all: RunRecord<O>[] = [];
  const skipped: { file: string; lines: number }[] = [];
  for (const f of files) {
    const c = readStore<O>(f);
    all.push(...c.records);
    const bad = c.badLines.length + (c.tornTail ? 1 : 0);
    if (bad > 0) skipped.push({ file: f, lines: bad });
  }
  return { byKey: latestByKey(all), skipped };
}

/** The runs of `total` that task `index` of `of` owns: every of-th, starting at index (balanced). */
export function ownsRun(runIndex: number, index: number, of: number): boolean {
  return runIndex % of === index;
}
