/**
 * `migscope sim [FILE]`: simulate one scenario and write result.json + trace.otlp.jsonl. Without a file it
 * runs the built-in default scenario (what `npm start` does).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../sim/errors.ts';
import { GRANULARITIES, type Granularity } from '../sim/span-recorder.ts';
import { writeRun } from './output.ts';
import type { MigrationResult } from './result.ts';
import {
  applySet,
  DEFAULT_SCENARIO_YAML,
  loadScenario,
  parseScenarioText,
  resolveScenario,
  type Scenario,
} from './scenario.ts';
import { simulate } from './simulate.ts';

export const HELP = `migscope sim [FILE] [options]

Simulate one live migration, page by page, and write result.json and trace.otlp.jsonl.
Without FILE the built-in scenario runs (a 1 GiB VM under qemu-kvm 0.12.3 + libvirt 0.7.7 with a
64 MiB zipf working set dirtied at 16 MiB/s).

options:
  --out DIR                   where to write (default: out/<scenario name>)
  --set KEY=VALUE             override a scenario key, dot notation, repeatable
                              (e.g. --set migration.maxBandwidthMiBps=64 --set model=qemu-7.2)
  --trace-granularity LEVEL   none | stage | iteration | tick (default: iteration)
  --print-scenario            print the fully resolved scenario as JSON and exit
  -h, --help                  this text

scenario format: see ../shared/contracts/scenario.example.yaml (every key is optional).
exit codes: 0 ok, 2 bad input (one line naming the file and key), 1 internal error.
`;

/** Parsed `sim` options. */
export interface SimCommandOptions {
  file?: string;
  out?: string;
  sets: string[];
  granularity: Granularity;
  printScenario: boolean;
}

/** Parse `sim` arguments; throws UsageError on bad input. */
export function parseSimArgs(argv: string[]): SimCommandOptions {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`sim: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1)
    throw new UsageError(`sim: expected at most one scenario file, got ${positionals.length}`);
  const g = (values['trace-granularity'] ?? 'iteration') as Granularity;
  if (!GRANULARITIES.includes(g))
    throw new UsageError(
      `sim: --trace-granularity: unknown value "${g}" (one of: ${GRANULARITIES.join(', ')})`,
    );
  return {
    file: positionals[0],
    out: values.out,
    sets: values.set ?? [],
    granularity: g,
    printScenario: values['print-scenario'] ?? false,
  };
}

const OPTIONS = {
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  'trace-granularity': { type: 'string' },
  'print-scenario': { type: 'boolean' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const o = parseSimArgs(argv);
  let scn: Scenario;
  if (o.file) scn = loadScenario(o.file, o.sets);
  else {
    const raw = parseScenarioText(DEFAULT_SCENARIO_YAML, { file: '(built-in scenario)' });
    for (const s of o.sets) applySet(raw, s);
    scn = resolveScenario(raw, { file: '(built-in scenario)' });
  }
  if (o.printScenario) {
    process.stdout.write(`${JSON.stringify(scn, null, 2)}\n`);
    return 0;
  }
  const outDir = o.out ?? `out/${scn.name}`;
  const t0 = performance.now();
  const { result, spans } = simulate(scn, { granularity: o.granularity });
  const wallMs = performance.now() - t0;
  const paths = writeRun(outDir, result, spans);
  process.stdout.write(summary(result, wallMs));
  process.stdout.write(`\nwrote ${paths.result}\n`);
  if (paths.trace)
    process.stdout.write(
      `wrote ${paths.trace} (${spans.length} spans; open in Jaeger 1.55+ or Grafana Tempo)\n`,
    );
  return 0;
}

const fmtBytes = (b: number) =>
  b >= 1 << 30
    ? `${(b / 2 ** 30).toFixed(2)} GiB`
    : b >= 1 << 20
      ? `${(b / 2 ** 20).toFixed(1)} MiB`
      : `${(b / 1024).toFixed(1)} KiB`;
const fmtMs = (ms: number | null) =>
  ms === null ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(3)} s` : `${ms.toFixed(1)} ms`;

/** A short human summary of a result. */
export function summary(r: MigrationResult, wallMs?: number): string {
  const s = r.scenario;
  const b = r.downtimeBreakdown;
  const lines = [
    `${s.name}: ${r.model}${s.libvirt.enabled ? ' via libvirt' : ''}, ${s.vm.memoryMiB} MiB VM, workload ${s.workload.kind}` +
      (s.workload.kind === 'idle'
        ? ''
        : ` (${s.workload.wssMiB} MiB at ${s.workload.dirtyRateMiBps} MiB/s)`) +
      `, ${s.migration.maxBandwidthMiBps || 'unlimited'} MiB/s cap, ${s.migration.downtimeLimitMs} ms downtime limit`,
    `  outcome     ${r.outcome}${r.message ? ` (${r.message})` : ''}`,
    `  total time  ${fmtMs(r.totalTimeMs)}   setup ${fmtMs(r.setupTimeMs)}   iterations ${r.iterations.length}`,
    `  downtime    ${fmtMs(r.downtimeMs)}` +
      (r.downtimeMs !== null
        ? `  = final pass ${fmtMs(b.finalPassMs)} + drain ${fmtMs(b.drainMs)} + load ${fmtMs(b.loadMs)} + management ${fmtMs(b.managementMs)}`
        : ''),
    `  sent        ${fmtBytes(r.bytes.total)} (ram ${fmtBytes(r.bytes.ram)}, block ${fmtBytes(r.bytes.block)}, device ${r.bytes.device === null ? 'n/a' : fmtBytes(r.bytes.device)}); pages ${r.pages.normal} normal + ${r.pages.uniform} uniform`,
  ];
  if (r.delivery)
    lines.push(
      `  delivery    ${r.delivery.pagesStale === 0 && r.delivery.chunksStale === 0 ? 'every page and chunk arrived in its last version' : `${r.delivery.pagesStale} stale pages, ${r.delivery.chunksStale} stale chunks`}`,
    );
  if (wallMs !== undefined) lines.push(`  simulated in ${wallMs.toFixed(0)} ms`);
  return `${lines.join('\n')}\n`;
}
