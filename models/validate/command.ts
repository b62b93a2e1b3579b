/**
 * `migscope validate`: compare the simulator with real migrations over a scenario matrix. Parses flags,
 * calls the library (./validate.ts, ./calibration.ts, ./dataset.ts) and writes or prints what it returns.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { readRun } from '../../reports/read.ts';
import { compareReportFiles } from '../../reports/report.ts';
import { UsageError } from '../../sim/errors.ts';
import { REPO_ROOT } from '../../trace/lab/guest.ts';
import { writeRun } from '../output.ts';
import { resultToJson } from '../result.ts';
import {
  type Calibration,
  calibrationJson,
  fitCalibration,
  loadCalibration,
  type ScenarioRuns,
} from './calibration.ts';
import { datasetJsonl } from './dataset.ts';
import { collectLayouts, type LayoutProber } from './layouts.ts';
import { loadMatrix, type Matrix } from './matrix.ts';
import { errorsCsv, indexHtml, markdownTables, summaryCsv, textSummary } from './output.ts';
import { type LabRunner, realTraceFile } from './real-cache.ts';
import { collectRealRuns, type RealProgress, simulateEntry, validateMatrix } from './validate.ts';

/** The stored calibration of this lab (validate calibrate writes it). */
export const DEFAULT_CALIBRATION = join(REPO_ROOT, 'models/calibration/qemu-7.2-lab-tcg.json');
/** Where real runs are cached by default. */
export const DEFAULT_REAL_CACHE = join(REPO_ROOT, '.cache/validate/real');
/** Where measured guest layouts go when the matrix names no `layouts:` directory. */
export const DEFAULT_LAYOUTS = join(REPO_ROOT, '.cache/validate/layouts');

export const HELP = `migscope validate <run|calibrate|dataset> MATRIX [options]

Compares the simulator with real migrations (migscope lab, two local QEMU 7.2 processes) over a matrix of
scenarios (test/fixtures/validate/*.yaml). Real runs are cached by the sha256 of what the lab runs, so a
rerun only runs the repeats the cache lacks, one at a time; Ctrl-C keeps what finished.

  run MATRIX [--out DIR] [--repeats N] [--calibration FILE|fit] [--cached-only] [--no-compare]
      Run the missing real repeats, simulate every scenario with the calibrated qemu-7.2 model and the
      fluid (SimGrid-style) baseline, and write DIR/validation.json, errors.csv (per scenario and metric:
      real median and run-to-run spread, sim and fluid APE p50/p90), summary.csv (per subset), tables.md,
      dataset.jsonl, index.html and runs/<scenario>/compare/compare.html (migscope report compare).
      Metrics: total time, RAM wire bytes, QEMU's downtime (source side), dirty-bitmap syncs. The
      "+setup" columns are a what-if: the sim with the measured setup time the model lacks.
      --calibration fit fits the host costs on the matrix's calibration subset first (DIR/calibration.json).
  calibrate MATRIX [--output FILE] [--repeats N]
      Run the calibration subset's missing repeats and fit the host costs on them; write FILE
      (default models/calibration/qemu-7.2-lab-tcg.json) with how each value was measured.
  dataset MATRIX --output FILE [--calibration FILE]
      Write the paired sim/real dataset (JSON Lines, per-iteration series) from cached runs only.

  --repeats N          real runs per scenario (default: the matrix's repeats, at least 3 for a report)
  --real-cache DIR     cache of real runs (default .cache/validate/real)
  --calibration FILE   calibration to simulate with (default models/calibration/qemu-7.2-lab-tcg.json)
  --cached-only        never start QEMU; use what the cache holds
  --no-layouts         simulate the parametric guest (working set at the top of RAM, zero pages drawn at
                       random) instead of the measured layout of each guest

Guest layouts: before simulating, each distinct guest of the matrix (RAM, vCPUs, working-set size, disk)
is probed once in the lab (migscope lab layout: one boot, ~8 s) for where its working set sits in
guest-physical memory and which pages are zero; the files go to the matrix's layouts: directory
(default .cache/validate/layouts) and are reused.

Examples:
  migscope validate run test/fixtures/validate/ci.yaml --out out/validate-ci           # ~2 min of real runs
  migscope validate calibrate test/fixtures/validate/full.yaml                          # calibration subset
  migscope validate run test/fixtures/validate/full.yaml --out out/validate-full       # ~15 min
`;

const OPTIONS = {
  out: { type: 'string' },
  output: { type: 'string' },
  repeats: { type: 'string' },
  'real-cache': { type: 'string' },
  calibration: { type: 'string' },
  'cached-only': { type: 'boolean' },
  'no-compare': { type: 'boolean' },
  'no-layouts': { type: 'boolean' },
} as const;

const ALLOWED: Record<string, readonly string[]> = {
  run: ['out', 'repeats', 'real-cache', 'calibration', 'cached-only', 'no-compare', 'no-layouts'],
  calibrate: ['output', 'repeats', 'real-cache', 'cached-only', 'no-layouts'],
  dataset: ['output', 'real-cache', 'calibration', 'no-layouts'],
};

/** Parsed flags of `migscope validate`. */
export interface ValidateArgs {
  sub: 'run' | 'calibrate' | 'dataset';
  matrix: string;
  out: string | null;
  output: string | null;
  repeats: number | null;
  realCache: string;
  calibration: string;
  cachedOnly: boolean;
  compare: boolean;
  layouts: boolean;
}

/** Parse `migscope validate` flags; a UsageError names the flag at fault. */
export function parseValidateArgs(argv: string[]): ValidateArgs {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`validate: ${(err as Error).message}`);
  }
  const sub = positionals[0];
  if (sub !== 'run' && sub !== 'calibrate' && sub !== 'dataset')
    throw new UsageError(
      `validate: expected run, calibrate or dataset (got ${sub ?? 'nothing'}; see migscope validate --help)`,
    );
  if (positionals.length !== 2) throw new UsageError(`validate ${sub}: expected one MATRIX file`);
  for (const k of Object.keys(values))
    if (values[k] !== undefined && !ALLOWED[sub]!.includes(k))
      throw new UsageError(`validate ${sub}: --${k} does not apply`);
  let repeats: number | null = null;
  if (values.repeats !== undefined) {
    const n = Number(values.repeats);
    if (!Number.isInteger(n) || n < 1 || n > 100)
      throw new UsageError(
        `validate ${sub}: --repeats: expected a whole number from 1 to 100, got "${values.repeats}"`,
      );
    repeats = n;
  }
  if (sub === 'dataset' && !values.output)
    throw new UsageError('validate dataset: --output FILE is required');
  return {
    sub,
    matrix: positionals[1]!,
    out: (values.out as string | undefined) ?? null,
    output: (values.output as string | undefined) ?? null,
    repeats,
    realCache: (values['real-cache'] as string | undefined) ?? DEFAULT_REAL_CACHE,
    calibration: (values.calibration as string | undefined) ?? DEFAULT_CALIBRATION,
    cachedOnly: values['cached-only'] === true,
    compare: values['no-compare'] !== true,
    layouts: values['no-layouts'] !== true,
  };
}

function progressLine(p: RealProgress): string {
  const r = p.run?.result;
  const what = `real ${p.done}/${p.total} ${p.entry.name} r${p.repeat}`;
  if (!p.run) return `${what}: missing (not cached)`;
  const load = p.run.loadavg[0].toFixed(2);
  return `${what}: ${p.cached ? 'cached' : `ran in ${p.run.wallS} s, load ${load}`}; ${r!.outcome} total ${Math.round(r!.totalTimeMs)} ms, downtime ${r!.downtimeMs ?? '-'} ms, ${(r!.bytes.total / 1048576).toFixed(1)} MiB, ${r!.iterations.length} syncs`;
}

/** The production runner: one real migration in the lab (loaded lazily: tests never import QEMU code). */
async function labRunner(signal: AbortSignal): Promise<LabRunner> {
  const { runLab } = await import('../../trace/lab/run.ts');
  const { toOtlpJsonl } = await import('../../trace/export/otlp-jsonl.ts');
  return async (s) => {
    const lab = await runLab(s, { signal });
    return { result: lab.result, trace: lab.spans.length > 0 ? toOtlpJsonl([lab.spans]) : null };
  };
}

/** The production prober: one boot of the scenario's guest in the lab (loaded lazily, like labRunner). */
async function labProber(signal: AbortSignal): Promise<LayoutProber> {
  const { probeGuestLayout } = await import('../../trace/lab/layout.ts');
  return (s) => probeGuestLayout(s, { signal });
}

async function collect(
  a: ValidateArgs,
  matrix: Matrix,
  filter: ScenarioRunsFilter | undefined,
  signal: AbortSignal,
): Promise<ScenarioRuns[]> {
  const repeats = a.repeats ?? matrix.repeats;
  if (a.layouts)
    await collectLayouts(matrix, {
      dir: matrix.layouts ?? DEFAULT_LAYOUTS,
      prober: a.cachedOnly ? null : await labProber(signal),
      signal,
      onProgress: (p) => {
        if (p.probed) process.stderr.write(`layout of ${p.entry.name}'s guest: probed, ${p.file}\n`);
      },
    });
  return collectRealRuns(matrix, {
    cacheDir: a.realCache,
    repeats,
    runner: a.cachedOnly ? null : await labRunner(signal),
    filter,
    signal,
    onProgress: (p) => {
      if (!p.cached || !p.run) process.stderr.write(`${progressLine(p)}\n`);
    },
  });
}

type ScenarioRunsFilter = Parameters<typeof collectRealRuns>[1]['filter'];

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function write(file: string, text: string, written: string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  written.push(file);
}

/** Run `migscope validate ...`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const a = parseValidateArgs(argv);
  const matrix = loadMatrix(a.matrix);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  try {
    if (a.sub === 'calibrate') return await calibrate(a, matrix, abort.signal);
    if (a.sub === 'dataset') {
      const runs = await collect({ ...a, cachedOnly: true }, matrix, undefined, abort.signal);
      const c = loadCalibration(a.calibration);
      const written: string[] = [];
      write(a.output!, datasetJsonl(runs, c, matrix.name), written);
      process.stdout.write(`wrote ${written[0]}\n`);
      return 0;
    }
    return await runValidation(a, matrix, abort.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function calibrate(a: ValidateArgs, matrix: Matrix, signal: AbortSignal): Promise<number> {
  const runs = await collect(a, matrix, (e) => e.subset === 'calibration', signal);
  if (signal.aborted) return 130;
  const out = a.output ?? DEFAULT_CALIBRATION;
  // A refit also starts from the values it replaces (the fit has local minima).
  const previous = existsSync(out) ? loadCalibration(out) : null;
  const c = fitCalibration(runs, {
    name: 'qemu-7.2-lab-tcg',
    matrix: matrix.file,
    command: `migscope validate calibrate ${a.matrix}`,
    starts: previous && previous.model === 'qemu-7.2' ? [previous] : [],
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  const written: string[] = [];
  write(out, calibrationJson(c), written);
  process.stdout.write(`${calibrationSummary(c)}wrote ${out}\n`);
  return 0;
}

function calibrationSummary(c: Calibration): string {
  return [
    `calibration ${c.name} (${c.provenance.realRuns} real runs of ${c.provenance.scenarios.length} scenarios; loss ${c.fit.lossBefore} -> ${c.fit.lossAfter})`,
    `  network.bandwidthMbps ${c.network.bandwidthMbps}  network.sendBufferKiB ${c.network.sendBufferKiB}  host.pageCopyNs ${c.host.pageCopyNs}  host.bitmapSyncNsPerGiB ${c.host.bitmapSyncNsPerGiB}  host.deviceSaveMs ${c.host.deviceSaveMs}`,
    `  guest: idle non-zero pages ${c.guest.idleNonzeroPages}, working set on zero pages ${c.guest.wssOnZeroFraction.toFixed(3)}, rate factor ${c.guest.rateFactor}, cpuShare ${c.guest.cpuShare}; setup ${c.fixed.setupMs} ms`,
    '',
  ].join('\n');
}

async function runValidation(a: ValidateArgs, matrix: Matrix, signal: AbortSignal): Promise<number> {
  const out = a.out ?? join('out', `validate-${safeName(matrix.name)}`);
  const runs = await collect(a, matrix, undefined, signal);
  if (signal.aborted) {
    process.stderr.write('validate: interrupted; finished real runs are cached, run again to resume\n');
    return 130;
  }
  const written: string[] = [];
  let c: Calibration;
  if (a.calibration === 'fit') {
    c = fitCalibration(
      runs.filter((r) => r.entry.subset === 'calibration'),
      {
        name: `fit-${matrix.name}`,
        matrix: matrix.file,
        command: `migscope validate run ${a.matrix} --calibration fit`,
        onProgress: (m) => process.stderr.write(`${m}\n`),
      },
    );
    write(join(out, 'calibration.json'), calibrationJson(c), written);
  } else c = loadCalibration(a.calibration);
  const v = validateMatrix(matrix, runs, c);
  write(join(out, 'validation.json'), `${JSON.stringify(v, null, 1)}\n`, written);
  write(join(out, 'errors.csv'), errorsCsv(v), written);
  write(join(out, 'summary.csv'), summaryCsv(v), written);
  write(join(out, 'tables.md'), markdownTables(v), written);
  write(join(out, 'dataset.jsonl'), datasetJsonl(runs, c, matrix.name), written);
  const links: Record<string, string> = {};
  if (a.compare) {
    for (const r of runs) {
      if (r.reals.length === 0) continue;
      const dir = join(out, 'runs', safeName(r.entry.name));
      const sim = simulateEntry(r.entry, c, 'iteration');
      writeRun(join(dir, 'sim'), sim.result, sim.spans);
      // The repeat closest to the median total time stands for the real runs.
      const sorted = [...r.reals].sort((x, y) => x.result.totalTimeMs - y.result.totalTimeMs);
      const rep = sorted[Math.floor((sorted.length - 1) / 2)]!;
      const realDir = join(dir, `real-r${rep.repeat}`);
      mkdirSync(realDir, { recursive: true });
      writeFileSync(join(realDir, 'result.json'), resultToJson(rep.result));
      const trace = realTraceFile(a.realCache, rep.key, rep.repeat);
      if (existsSync(trace)) copyFileSync(trace, join(realDir, 'trace.otlp.jsonl'));
      for (const [name, text] of compareReportFiles(
        readRun(join(dir, 'sim')),
        readRun(join(dir, `real-r${rep.repeat}`)),
      ))
        write(join(dir, 'compare', name), text, written);
      links[r.entry.name] = `runs/${safeName(r.entry.name)}/compare/compare.html`;
    }
  }
  write(join(out, 'index.html'), indexHtml(v, links), written);
  process.stdout.write(textSummary(v));
  process.stdout.write(
    `wrote ${join(out, 'validation.json')}, errors.csv, summary.csv, tables.md, dataset.jsonl, index.html${a.compare ? ' and runs/*/compare/' : ''}\n`,
  );
  const missing = runs.filter((r) => r.reals.length < (a.repeats ?? matrix.repeats));
  if (missing.length > 0) {
    process.stderr.write(
      `validate: ${missing.length} scenarios have fewer real runs than asked (${missing.map((r) => r.entry.name).join(', ')})\n`,
    );
    return 3;
  }
  return 0;
}
