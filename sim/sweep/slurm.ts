/**
 * Slurm job arrays: a batch script whose array task I runs share I of N of a sweep and appends to its own
 * shard store in a shared folder; `collectShards` merges the shards. Resuming is submitting again: every
 * task skips the keys that are already stored.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { latestByKey, type RecordRank, type RunRecord, readStore } from './store.ts';

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

/** Run a Slurm client command; resolves to its stdout, rejects with its last stderr line. */
function slurmCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    p.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** Submit a batch script; resolves to the job id. */
export async function submit(scriptPath: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const out = await slurmCommand('sbatch', ['--parsable', scriptPath], opts.env);
  const id = out.trim().split('\n')[0]?.split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id (got "${out.trim()}")`);
  return id;
}

/** How the tasks of a finished job ended (from scontrol; null when Slurm no longer knows the job). */
export interface JobEnd {
  /** Task states, e.g. COMPLETED: 4. */
  states: Record<string, number> | null;
  /** Tasks that did not end COMPLETED. */
  failed: number | null;
}

/**
 * Wait until no task of `jobId` is pending or running, polling squeue every `pollMs` (sbatch --wait backs
 * off to 30 s between polls, too slow for short sweeps), then read how the tasks ended.
 */
export async function waitForJob(
  jobId: string,
  opts: { pollMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<JobEnd> {
  const pollMs = opts.pollMs ?? 1000;
  for (;;) {
    let out = '';
    try {
      out = await slurmCommand('squeue', ['-h', '-j', jobId, '-o', '%i'], opts.env);
    } catch (err) {
      // squeue rejects a job id the controller has already purged: the job is over.
      if (!/Invalid job id/i.test((err as Error).message)) throw err;
    }
    if (out.trim() === '') break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  let text: string;
  try {
    text = await slurmCommand('scontrol', ['-o', 'show', 'job', jobId], opts.env);
  } catch {
    return { states: null, failed: null };
  }
  const states: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const state = /\bJobState=(\S+)/.exec(line)?.[1];
    if (state) states[state] = (states[state] ?? 0) + 1;
  }
  const failed = Object.entries(states).reduce((n, [s, c]) => n + (s === 'COMPLETED' ? 0 : c), 0);
  return { states, failed };
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
export function mergeStores<O>(files: readonly string[], rank?: RecordRank): MergeReport<O> {
  const all: RunRecord<O>[] = [];
  const skipped: { file: string; lines: number }[] = [];
  for (const f of files) {
    const c = readStore<O>(f);
    all.push(...c.records);
    const bad = c.badLines.length + (c.tornTail ? 1 : 0);
    if (bad > 0) skipped.push({ file: f, lines: bad });
  }
  return { byKey: latestByKey(all, rank), skipped };
}

/** The runs of `total` that task `index` of `of` owns: every of-th, starting at index (balanced). */
export function ownsRun(runIndex: number, index: number, of: number): boolean {
  return runIndex % of === index;
}
