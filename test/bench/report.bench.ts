/**
 * Report speed: the time to turn a 16 GiB VM's migration (simulated at tick granularity: every 100 ms
 * window, iteration, RAM pass and bitmap sync as a span) into its report files. The simulation and the
 * writing of its run directory happen before the clock starts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { writeRun } from '../../models/output.ts';
import { DEFAULT_SCENARIO_YAML, resolveScenario } from '../../models/scenario.ts';
import { simulate } from '../../models/simulate.ts';
import type { BenchRow } from './command.ts';

const TARGET_MS = 3000;

export default async (): Promise<BenchRow[]> => {
  const raw = parse(DEFAULT_SCENARIO_YAML) as { name: string; vm: { memoryMiB: number } };
  raw.name = 'bench-16gib';
  raw.vm.memoryMiB = 16384;
  const { result, spans } = simulate(resolveScenario(raw), { granularity: 'tick', trackVersions: false });
  const dir = join(mkdtempSync(join(tmpdir(), 'migscope-bench-report-')), 'run');
  writeRun(dir, result, spans);

  let t = performance.now();
  const { readRun } = await import('../../reports/read.ts');
  const { runReportFiles } = await import('../../reports/report.ts');
  const loadMs = performance.now() - t;

  const once = () => {
    const t0 = performance.now();
    let bytes = 0;
    for (const [, text] of runReportFiles(readRun(dir))) bytes += text.length;
    return { ms: performance.now() - t0, bytes };
  };
  const first = once();
  const warm = [once(), once(), once()].map((r) => r.ms).sort((a, b) => a - b);
  t = warm[1]!;
  const note = `${spans.length} spans, ${result.iterations.length} iterations, ${(first.bytes / 1e6).toFixed(1)} MB written`;
  return [
    {
      name: 'report: 16 GiB tick trace, read + all files, first run',
      value: first.ms,
      unit: 'ms',
      target: { value: TARGET_MS, higherIsBetter: false },
      note,
    },
    {
      name: 'report: 16 GiB tick trace, read + all files, median of 3',
      value: t,
      unit: 'ms',
      target: { value: TARGET_MS, higherIsBetter: false },
    },
    { name: 'report: loading reports/ (d3-node, jsdom, d3)', value: loadMs, unit: 'ms' },
  ];
};
