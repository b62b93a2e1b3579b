/**
 * `migscope sweep`: run a parameter sweep locally (a pool of worker threads) or as a Slurm job array,
 * resume it, merge it, export it. Parses flags, calls one function of ./sweep.ts, prints a summary.
 */

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../../sim/errors.ts';
import { sweepCsv } from './export.ts';
import { planSweep } from './plan.ts';
import { loadSweepSpec, type SweepSpec } from './spec.ts';
import {
  type CollectSummary,
  collectSweep,
  csvFile,
  readSweepStores,
  runSweep,
  sbatchSweep,
  storeFile,
} from './sweep.ts';

export const HELP = `migscope sweep <run|sbatch|collect|csv|plot> SPEC [options]

Runs a parameter sweep (test/fixtures/sweep/*.yaml; format: ../shared/contracts/sweep.example.yaml): a base
scenario with parameters varied over lists or ranges, by grid, random or Latin hypercube (lhs) sampling,
each point run \`repeats\` times with its own derived seed. Every run is keyed by the sha256 of its resolved
scenario, so running again computes only what is missing (after a crash, a kill, a partial Slurm job, or an
edit of the spec that adds values). Each record carries the simulator build (a hash of the sim/ and
models/ sources): runs stored by another build are recomputed, not mixed in.

  run SPEC [--out DIR] [--workers N] [--index I --of N] [--retry-failed]
      Run the missing runs with N worker threads (default: one per CPU; 0 = in this thread), appending to
      DIR/results.jsonl, then write it back merged and in sweep order, and write DIR/results.csv.
      With --index I --of N, run only every N-th run from I into DIR/shards/I-of-N.jsonl (Slurm tasks).
  sbatch SPEC --out SHARED_DIR [--tasks N] [--max-running K] [--cpus-per-task C] [--partition P]
         [--time T] [--wait] [--dry-run]
      Write SHARED_DIR/sweep.sbatch, a job array of N tasks (default: min(runs, 100)) each running
      \`migscope sweep run --index $SLURM_ARRAY_TASK_ID --of N\`, and submit it. --wait blocks until the
      job ends, then collects. Submit again to resume.
  collect SPEC --out DIR
      Merge DIR/results.jsonl and DIR/shards/*.jsonl into DIR/results.jsonl and write DIR/results.csv.
  csv SPEC --out DIR [--output FILE]
      Write the stored runs as CSV (parameters first, scalar result fields flattened) to FILE
      (default DIR/results.csv; - for stdout).
  plot SPEC --out DIR
      Write SVG plots of total time, downtime and bytes against the swept parameters to DIR/plots/.

  --out DIR   output folder (default: out/sweep-NAME)
Progress goes to stderr: a bar on a terminal, a line every 10 s otherwise. Ctrl-C stores the runs in flight
and exits with 130; kill -9 loses only the runs in flight. Either way, run again to resume.
`;

const OPTIONS = {
  out: { type: 'string' },
  workers: { type: 'string' },
  index: { type: 'string' },
  of: { type: 'string' },
  'retry-failed': { type: 'boolean' },
  tasks: { type: 'string' },
  'max-running': { type: 'string' },
  'cpus-per-task': { type: 'string' },
  partition: { type: 'string' },
  time: { type: 'string' },
  wait: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  output: { type: 'string' },
} as const;

const ALLOWED: Record<string, readonly string[]> = {
  run: ['out', 'workers', 'index', 'of', 'retry-failed'],
  sbatch: ['out', 'tasks', 'max-running', 'cpus-per-task', 'partition', 'time', 'wait', 'dry-run'],
  collect: ['out'],
  csv: ['out', 'output'],
  plot: ['out'],
};

/** A whole number flag, or a UsageError naming it. */
function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new UsageError(`--${name}: expected a whole number >= ${min}, got "${v}"`);
  return Number(v);
}

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

function collectLine(c: CollectSummary): string {
  let s = `${c.stored}/${c.total} runs stored (${c.failed} failed)`;
  if (c.stale > 0) s += `, ${c.stale} from another simulator build: run again to recompute them`;
  if (c.missing > 0) s += `, ${c.missing} missing: run again to compute them`;
  if (c.foreign > 0) s += `, ${c.foreign} stored runs not in this sweep kept`;
  for (const k of c.skipped) s += `; skipped ${k.lines} unreadable line(s) in ${k.file}`;
  return s;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || !(sub in ALLOWED))
    throw new UsageError(
      `sweep: expected a subcommand (${Object.keys(ALLOWED).join(', ')}), got ${sub ? `"${sub}"` : 'nothing'}`,
    );
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true }));
  } catch (err) {
    throw new UsageError(`sweep ${sub}: ${(err as Error).message}`);
  }
  for (const k of Object.keys(values))
    if (!ALLOWED[sub]!.includes(k))
      throw new UsageError(
        `sweep ${sub}: --${k} is not an option of ${sub} (options: ${ALLOWED[sub]!.map((o) => `--${o}`).join(', ')})`,
      );
  if (positionals.length !== 1)
    throw new UsageError(`sweep ${sub}: expected one SPEC file, got ${positionals.length}`);
  const spec: SweepSpec = loadSweepSpec(positionals[0]!);
  const out = (values.out as string | undefined) ?? join('out', `sweep-${spec.name}`);
  if (sub === 'sbatch' && values.out === undefined)
    throw new UsageError('sweep sbatch: --out SHARED_DIR is required (a folder every node can write)');

  switch (sub) {
    case 'run': {
      const index = intFlag('index', values.index as string | undefined, 0);
      const of = intFlag('of', values.of as string | undefined, 1);
      if ((index === undefined) !== (of === undefined))
        throw new UsageError('sweep run: --index and --of go together');
      if (index !== undefined && of !== undefined && index >= of)
        throw new UsageError(`--index: must be < --of (${index} >= ${of})`);
      const workers = intFlag('workers', values.workers as string | undefined, 0) ?? availableParallelism();
      const abort = new AbortController();
      const onSignal = () => {
        say('sweep: interrupted; finishing the runs in flight (again to quit at once)');
        process.off('SIGINT', onSignal);
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      try {
        const s = await runSweep(spec, {
          outDir: out,
          workers,
          shard: index !== undefined && of !== undefined ? { index, of } : undefined,
          retryFailed: values['retry-failed'] === true,
          progress: process.stderr,
          signal: abort.signal,
        });
        const part =
          s.owned === s.total ? `${s.total} runs` : `${s.owned} of ${s.total} runs (shard ${index} of ${of})`;
        say(
          `sweep ${spec.name}: ${part}: ${s.stored} already stored, ${s.computed} computed (${s.failed} failed${s.stale ? `, ${s.stale} recomputed for this simulator build` : ''}) -> ${s.file}`,
        );
        if (s.owned === s.total && !abort.signal.aborted) say(`sweep ${spec.name}: ${csvFile(out)}`);
      } finally {
        process.off('SIGINT', onSignal);
      }
      // 130: interrupted (128 + SIGINT), as shells report it; what finished is stored.
      return abort.signal.aborted ? 130 : 0;
    }
    case 'sbatch': {
      const s = await sbatchSweep(spec, {
        outDir: out,
        tasks: intFlag('tasks', values.tasks as string | undefined, 1),
        maxRunning: intFlag('max-running', values['max-running'] as string | undefined, 1),
        cpusPerTask: intFlag('cpus-per-task', values['cpus-per-task'] as string | undefined, 1),
        partition: values.partition as string | undefined,
        timeLimit: values.time as string | undefined,
        wait: values.wait === true,
        dryRun: values['dry-run'] === true,
      });
      if (!s.jobId)
        say(`sweep ${spec.name}: wrote ${s.script} (${s.tasks} tasks); submit it with: sbatch ${s.script}`);
      else if (!s.collected)
        say(
          `sweep ${spec.name}: submitted job ${s.jobId} (${s.tasks} tasks); when it ends: migscope sweep collect ${spec.file} --out ${out}`,
        );
      else {
        const failed = s.end?.failed
          ? ` (${s.end.failed} task(s) did not complete: see ${join(out, 'logs')})`
          : '';
        say(`sweep ${spec.name}: job ${s.jobId} ended${failed}; ${collectLine(s.collected)}`);
      }
      if (s.jobId) process.stdout.write(`${s.jobId}\n`);
      return 0;
    }
    case 'collect': {
      const c = collectSweep(spec, out);
      say(`sweep ${spec.name}: ${collectLine(c)} -> ${storeFile(out)}, ${csvFile(out)}`);
      return 0;
    }
    case 'csv': {
      const plan = planSweep(spec);
      const { byKey } = readSweepStores(out);
      const text = sweepCsv(
        spec.design.parameters.map((p) => p.path),
        plan,
        byKey,
      );
      const dest = (values.output as string | undefined) ?? csvFile(out);
      if (dest === '-') process.stdout.write(text);
      else {
        writeFileSync(dest, text);
        say(`sweep ${spec.name}: ${byKey.size} stored runs -> ${dest}`);
      }
      return 0;
    }
    case 'plot': {
      const { writeSweepPlots } = await import('./plots.ts');
      const files = writeSweepPlots(spec, out);
      say(`sweep ${spec.name}: ${files.length} plot(s) in ${join(out, 'plots')}`);
      return 0;
    }
  }
  return 0;
}
