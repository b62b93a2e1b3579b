/**
 * `migscope lab run FILE`: run a scenario as a real live migration between two local QEMU 7.2 processes
 * and write the same result.json and trace.otlp.jsonl as `migscope sim`.
 * `migscope lab layout FILE`: measure where the scenario's guest puts its working set and which pages are
 * zero (trace/lab/layout.ts) and write a guest layout file for the simulator.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { layoutJson, runsLength } from '../../models/guest/layout.ts';
import { loadScenario } from '../../models/scenario.ts';
import { UsageError } from '../../sim/errors.ts';
import { probeGuestLayout } from './layout.ts';
import { LabAborted, LabFailure, type LabProgress, runLab } from './run.ts';

/** `migscope lab --help`. */
export const HELP = `migscope lab run FILE [options]

Run the scenario in FILE as a real live migration between two local QEMU 7.2 processes (TCG, loopback,
a tiny guest running the scenario's seeded workload) and write result.json, trace.otlp.jsonl, the raw
QMP record (lab-record.json), QEMU trace-event logs and serial consoles. After a completed migration the
source and destination RAM (and disks, with disk.migrate) are compared; any difference fails the run.

options:
  --out DIR          where to write (default: out/lab/<scenario name>)
  --set KEY=VALUE    override a scenario key, dot notation, repeatable (e.g. --set workload.dirtyRateMiBps=32)
  --sample-ms N      query-migrate poll period in ms (default 50)
  -h, --help         this text

The scenario must say model: qemu-7.2. Install the lab first: bash test/setup/install-qemu.sh
exit codes: 0 completed, 3 not completed (failed, timeout, cancelled), 2 bad input, 130 interrupted.

migscope lab layout FILE [options]

Boot the scenario's source guest alone (its working set allocated and touched, but no writes), pause it
when the workload starts and write a guest layout: the guest-physical pages of the working set, in the
order the workload indexes them, and the pages that are zero (a pmemsave dump). Set vm.layout to the
file to make the simulator scan RAM and send zero pages as this guest does.

options:
  --output FILE      where to write (default: out/lab/<scenario name>/layout.json)
  --set KEY=VALUE    override a scenario key, dot notation, repeatable
  -h, --help         this text

exit codes: 0 written, 3 the guest or QEMU failed, 2 bad input, 130 interrupted.
`;

const OPTIONS = {
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  'sample-ms': { type: 'string' },
} as const;

/** Parsed `lab run` arguments. */
export interface LabCommandOptions {
  file: string;
  out: string | undefined;
  sets: string[];
  sampleMs: number;
}

function badSubcommand(sub: string | undefined): UsageError {
  return new UsageError(
    `lab: expected the subcommand "run" or "layout" (migscope lab run FILE), got ${sub === undefined ? 'nothing' : `"${sub}"`}`,
  );
}

/** Parse `lab run` arguments (the first must be the subcommand `run`); throws UsageError on bad input. */
export function parseLabArgs(argv: string[]): LabCommandOptions {
  const [sub, ...rest] = argv;
  if (sub !== 'run') throw badSubcommand(sub);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`lab run: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(`lab run: expected one scenario file, got ${positionals.length}`);
  const sampleMs = values['sample-ms'] === undefined ? 50 : Number(values['sample-ms']);
  if (!Number.isFinite(sampleMs) || sampleMs < 10 || sampleMs > 1000)
    throw new UsageError(`lab run: --sample-ms: expected 10..1000 ms, got "${values['sample-ms']}"`);
  return { file: positionals[0]!, out: values.out, sets: values.set ?? [], sampleMs };
}

const LAYOUT_OPTIONS = {
  output: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const;

/** Parsed `lab layout` arguments. */
export interface LabLayoutOptions {
  file: string;
  output: string | undefined;
  sets: string[];
}

/** Parse `lab layout` arguments (the first must be the subcommand `layout`); throws UsageError. */
export function parseLabLayoutArgs(argv: string[]): LabLayoutOptions {
  const [sub, ...rest] = argv;
  if (sub !== 'layout') throw badSubcommand(sub);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof LAYOUT_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: rest, options: LAYOUT_OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`lab layout: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new UsageError(`lab layout: expected one scenario file, got ${positionals.length}`);
  if (values.output === '') throw new UsageError('lab layout: --output: expected a file name');
  return { file: positionals[0]!, output: values.output, sets: values.set ?? [] };
}

/** Run `migscope lab layout ...`; returns the exit code. */
async function runLayout(argv: string[]): Promise<number> {
  const o = parseLabLayoutArgs(argv);
  const scn = loadScenario(o.file, o.sets);
  const output = o.output ?? `out/lab/${scn.name}/layout.json`;
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  if (process.stderr.isTTY) process.stderr.write('lab: probing the guest layout ...');
  let layout: Awaited<ReturnType<typeof probeGuestLayout>>;
  try {
    layout = await probeGuestLayout(scn, { signal: abort.signal });
  } catch (err) {
    if (!(err instanceof LabFailure || err instanceof LabAborted)) throw err;
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    process.stderr.write(`migscope: lab layout: ${scn.name}: ${err.message}\n`);
    return err instanceof LabAborted ? 130 : 3;
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, layoutJson(layout));
  const pages = Math.round(scn.vm.memoryMiB * 256);
  const zero = runsLength(layout.zero ?? []);
  let span = 'no working set';
  if (layout.placement.length > 0) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const [p, c] of layout.placement) {
      lo = Math.min(lo, p);
      hi = Math.max(hi, p + c);
    }
    span = `working set within guest MiB ${(lo / 256).toFixed(1)}-${(hi / 256).toFixed(1)}`;
  }
  process.stdout.write(
    `${scn.name}: ${layout.wssPages} working-set pages in ${layout.placement.length} runs, ${zero} of ${pages} pages zero (${((100 * zero) / pages).toFixed(1)}%), ${span}; wrote ${output}\n`,
  );
  return 0;
}

function progressLine(p: LabProgress): string {
  if (p.phase === 'boot') return 'lab: booting the source guest ...';
  if (p.phase === 'compare') return 'lab: comparing source and destination ...';
  const mib = (b: number) => (b / 1048576).toFixed(1);
  return `lab: ${p.elapsedS.toFixed(1)} s ${p.status ?? ''}${p.phase === 'cancel' ? ' (cancelling)' : ''}  sent ${mib(p.transferredBytes)} MiB  remaining ${mib(p.remainingBytes)} MiB  passes ${p.passes}  ${p.mbps.toFixed(0)} Mbit/s`;
}

/** Run `migscope lab ...`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'layout') return runLayout(argv);
  const o = parseLabArgs(argv);
  const scn = loadScenario(o.file, o.sets);
  const outDir = o.out ?? `out/lab/${scn.name}`;
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  const onProgress = (p: LabProgress) => {
    const now = Date.now();
    // A redrawn line on a terminal; one line a second in a log.
    if (!tty && now - lastPrint < 1000 && p.phase !== 'boot' && p.phase !== 'compare') return;
    lastPrint = now;
    const line = progressLine(p);
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on('SIGINT', onSigint);
  let lab: Awaited<ReturnType<typeof runLab>>;
  try {
    lab = await runLab(scn, { outDir, sampleIntervalMs: o.sampleMs, signal: abort.signal, onProgress });
  } finally {
    process.off('SIGINT', onSigint);
    if (tty) process.stderr.write('\r\x1b[K');
  }
  const r = lab.result;
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  const lines = [
    `${scn.name}: ${r.outcome}${r.message ? ` (${r.message})` : ''}`,
    `  total ${r.totalTimeMs} ms, downtime ${r.downtimeMs ?? '-'} ms, setup ${r.setupTimeMs ?? '-'} ms, ${r.iterations.length} passes`,
    `  sent ${mib(r.bytes.total)} (ram ${mib(r.bytes.ram)}, block ${mib(r.bytes.block)}), ${r.pages.normal} normal + ${r.pages.uniform} zero pages`,
  ];
  if (r.delivery)
    lines.push(
      `  RAM check: ${r.delivery.pagesStale} of ${r.extra.ramPagesCompared} pages differ${r.extra.diskIdentical === null ? '' : `; disks ${r.extra.diskIdentical ? 'identical' : 'differ'}`}`,
    );
  if (lab.paths) {
    lines.push(`  wrote ${lab.paths.result}`);
    if (lab.paths.trace) lines.push(`  wrote ${lab.paths.trace}`);
    lines.push(`  raw QMP record, trace-event logs and consoles in ${lab.paths.dir}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (abort.signal.aborted) return 130;
  return r.outcome === 'completed' ? 0 : 3;
}
