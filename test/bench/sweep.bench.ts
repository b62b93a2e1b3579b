/**
 * Sweep throughput: a 10,000-run random sweep over the 1 GiB default scenario (bandwidth 16-256 MiB/s,
 * dirty rate 1-64 MiB/s, log scales) through the whole pipeline: planning, worker threads, the JSONL store,
 * the final merge and the CSV. Timed on the first MIGSCOPE_BENCH_SWEEP_RUNS runs (default 2,000; the random
 * sampler draws the same first runs whatever the count) and extrapolated to 10,000; scaling from 1 to 2
 * workers is measured on the first half of those runs.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSweep } from '../../models/sweep/plan.ts';
import { resolveSweepSpec, type SweepSpec } from '../../models/sweep/spec.ts';
import { runSweep, storeFile } from '../../models/sweep/sweep.ts';
import { runTask } from '../../models/sweep/task.ts';
import { runPool } from '../../sim/sweep/pool.ts';
import type { BenchRow } from './command.ts';

const FULL = 10_000;
const BASE = new URL('../fixtures/sweep/base-1gib.yaml', import.meta.url).pathname;

function spec(samples: number): SweepSpec {
  return resolveSweepSpec(
    {
      name: 'bench-1gib',
      base: BASE,
      sampler: 'random',
      samples,
      seed: 1,
      parameters: {
        'migration.maxBandwidthMiBps': { from: 16, to: 256, scale: 'log' },
        'workload.dirtyRateMiBps': { from: 1, to: 64, scale: 'log' },
      },
    },
    join(new URL('../fixtures/sweep/', import.meta.url).pathname, 'bench.yaml'),
  );
}

async function timed(s: SweepSpec, workers: number, dir: string) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await runSweep(s, { outDir: dir, workers });
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (summary.failed > 0) throw new Error(`sweep bench: ${summary.failed} runs failed`);
  // CPU seconds of all threads per wall second: how many cores the machine actually gave us.
  const cores = (cpu.user + cpu.system) / 1e6 / secs;
  return { secs, perSec: summary.computed / secs, computed: summary.computed, cores };
}

/** Speedup of a pure-CPU task (200 ms busy loops) from 1 to 2 workers: what the machine allows right now. */
async function controlSpeedup(): Promise<number> {
  const tasks = Array.from({ length: 8 }, (_, id) => ({ id, input: 'slow' }));
  const module = new URL('../sim/sweep/double-task.ts', import.meta.url);
  const wall = async (workers: number) => {
    const t0 = performance.now();
    await runPool(tasks, { module, workers }, () => {});
    return performance.now() - t0;
  };
  const one = await wall(1);
  return one / (await wall(2));
}

export default async function bench(): Promise<BenchRow[]> {
  const n = Number(process.env.MIGSCOPE_BENCH_SWEEP_RUNS ?? 2000);
  const half = Math.max(1, Math.floor(n / 2));
  const root = mkdtempSync(join(tmpdir(), 'migscope-sweep-bench-'));
  try {
    const t0 = performance.now();
    planSweep(spec(FULL));
    const planMs = performance.now() - t0;

    const two = await timed(spec(n), 2, join(root, 'two'));
    const storeBytes = statSync(storeFile(join(root, 'two'))).size;
    const t1 = performance.now();
    const again = await runSweep(spec(n), { outDir: join(root, 'two'), workers: 2 });
    const resumeMs = performance.now() - t1;
    if (again.computed !== 0) throw new Error('sweep bench: a rerun recomputed stored runs');

    const one = await timed(spec(half), 1, join(root, 'one'));
    const twoHalf = await timed(spec(half), 2, join(root, 'two-half'));
    const control = await controlSpeedup();
    // The same runs as a plain loop over runTask in this thread: what the pipeline adds per run.
    const plainPlan = planSweep(spec(half));
    const tp = performance.now();
    for (const r of plainPlan) runTask(r.scenario!);
    const plainPerSec = plainPlan.length / ((performance.now() - tp) / 1000);
    const extrapolated = n === FULL ? two.secs : planMs / 1000 + FULL / two.perSec;
    const measured =
      n === FULL
        ? 'measured on all 10,000 runs'
        : `extrapolated from the first ${n} runs (${two.secs.toFixed(1)} s)`;
    return [
      {
        name: 'sweep 10,000 x 1 GiB runs, 2 workers: wall time',
        value: extrapolated,
        unit: 's',
        target: { value: 60, higherIsBetter: false },
        note: `${measured}, plan, store, merge and CSV included`,
      },
      {
        name: 'sweep 1 GiB runs, 2 workers: throughput',
        value: two.perSec,
        unit: 'runs/s',
        note: `${n} runs, ${two.cores.toFixed(2)} cores used`,
      },
      {
        name: 'sweep 1 GiB runs, 1 worker: throughput',
        value: one.perSec,
        unit: 'runs/s',
        note: `first ${half} runs`,
      },
      {
        name: 'sweep scaling from 1 to 2 workers',
        value: twoHalf.perSec / one.perSec,
        unit: 'x',
        target: { value: 1.8, higherIsBetter: true },
        note: `same ${half} runs: ${one.perSec.toFixed(1)} -> ${twoHalf.perSec.toFixed(1)} runs/s, using ${one.cores.toFixed(2)} -> ${twoHalf.cores.toFixed(2)} cores; a pure-CPU control task scales ${control.toFixed(2)}x on this machine now`,
      },
      {
        name: 'sweep pipeline overhead, 1 worker vs a plain simulate() loop',
        value: 100 * (plainPerSec / one.perSec - 1),
        unit: '%',
        note: `same ${half} runs: ${plainPerSec.toFixed(1)} runs/s in a plain loop; includes worker start-up, planning, store, merge, CSV`,
      },
      { name: 'sweep planning 10,000 runs (expand, resolve, hash)', value: planMs, unit: 'ms' },
      {
        name: `sweep rerun with all ${n} runs stored (nothing to compute)`,
        value: resumeMs,
        unit: 'ms',
        note: 'plan + read store + merge + CSV',
      },
      { name: 'sweep store size per run', value: storeBytes / n, unit: 'bytes' },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
