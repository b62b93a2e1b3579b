/**
 * Simulator speed and memory: migrations simulated per second for a 1 GiB VM (idle, and a 64 MiB working
 * set dirtied at 16 MiB/s) and for a 16 GiB VM, per model, with tracing off, on one core.
 */
import { resolveScenario } from '../../models/scenario.ts';
import { availableModels, simulate } from '../../models/simulate.ts';
import type { BenchRow } from './command.ts';

function scenario(model: string, memoryMiB: number, dirty: boolean) {
  return resolveScenario({
    name: 'bench',
    model,
    seed: 7,
    vm: { memoryMiB },
    workload: dirty ? { kind: 'uniform', wssMiB: 64, dirtyRateMiBps: 16 } : { kind: 'idle' },
  });
}

function rate(model: string, memoryMiB: number, dirty: boolean, minMs: number, trackVersions: boolean) {
  let seed = 1;
  const runOnce = () => {
    const s = scenario(model, memoryMiB, dirty);
    s.seed = seed++;
    return simulate(s, { granularity: 'none', trackVersions });
  };
  runOnce(); // warm up the JIT
  const t0 = performance.now();
  let n = 0;
  let last = runOnce();
  n++;
  while (performance.now() - t0 < minMs) {
    last = runOnce();
    n++;
  }
  const secs = (performance.now() - t0) / 1000;
  return { perSec: n / secs, simulatedS: last.result.totalTimeMs / 1000 };
}

export default async function bench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const model of availableModels()) {
    for (const [label, mib, dirty] of [
      ['1 GiB idle', 1024, false],
      ['1 GiB, 64 MiB WSS at 16 MiB/s', 1024, true],
    ] as const) {
      const r = rate(model, mib, dirty, 3000, false);
      rows.push({
        name: `${model} ${label}: migrations/s`,
        value: r.perSec,
        unit: 'runs/s',
        target: { value: 200, higherIsBetter: true },
        note: `one core, tracing off, ${r.simulatedS.toFixed(1)} s simulated each`,
      });
    }
    const v = rate(model, 1024, true, 2000, true);
    rows.push({
      name: `${model} 1 GiB dirty, with delivery check: migrations/s`,
      value: v.perSec,
      unit: 'runs/s',
    });
    const big = rate(model, 16384, false, 3000, false);
    rows.push({
      name: `${model} 16 GiB idle: migrations/s`,
      value: big.perSec,
      unit: 'runs/s',
      note: `${big.simulatedS.toFixed(1)} s simulated each`,
    });
  }
  // Peak memory: one run at 1 GiB and one at 16 GiB with the delivery check (its arrays are the largest).
  for (const mib of [1024, 16384]) {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 1);
    const s = scenario(availableModels()[0]!, mib, true);
    simulate(s, { granularity: 'none', trackVersions: true });
    peak = Math.max(peak, process.memoryUsage().rss);
    clearInterval(timer);
    rows.push({
      name: `peak RSS growth, ${mib / 1024} GiB VM with delivery check`,
      value: (peak - before) / 2 ** 20,
      unit: 'MiB',
      note: 'expect ~ linear in VM size',
    });
  }
  return rows;
}
