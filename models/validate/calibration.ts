/**
 * Host calibration: the costs the QEMU 7.2 model takes as scenario keys (per-page cost, bitmap-sync cost,
 * switchover cost, effective throughput of the link) and the facts of the lab's guest the simulator cannot
 * know (its zero pages, how fast it really dirties), measured or fitted on the calibration subset of a
 * matrix's real runs. `applyCalibration` turns a matrix scenario into the one the simulator runs.
 */
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { UsageError } from '../../sim/errors.ts';
import type { MigrationResult } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import { simulate } from '../simulate.ts';
import { PAGES_PER_MIB } from '../workloads/page-writes.ts';
import { replayScenario } from '../workloads/replay.ts';
import { ape, type Figures, median, medianFigures, resultFigures } from './errors.ts';
import { withLayout } from './layouts.ts';
import type { MatrixEntry } from './matrix.ts';
import type { RealRun } from './real-cache.ts';

/** Format tag of calibration files. */
export const CALIBRATION_FORMAT = 'migscope-calibration/1';

/** Calibrated host costs and guest facts, with how they were obtained. */
export interface Calibration {
  format: typeof CALIBRATION_FORMAT;
  name: string;
  model: 'qemu-7.2';
  description: string;
  provenance: {
    measuredAt: string;
    host: { cpus: number; kernel: string };
    qemuVersion: string | null;
    matrix: string;
    scenarios: string[];
    realRuns: number;
    /** 1-min load average over the calibration runs: min, median, max. */
    loadavg1: [number, number, number] | null;
    command: string;
  };
  /** Scenario `host:` keys. */
  host: {
    pageCopyNs: number;
    bitmapSyncNsPerGiB: number;
    bitmapSyncNsPerDirtyPage: number;
    deviceSaveMs: number;
    deviceLoadMs: number;
    monitorRttUs: number;
  };
  /** Scenario `network:` keys: the effective loopback throughput under TCG. */
  network: { bandwidthMbps: number; rttMs: number; sendBufferKiB: number };
  guest: {
    /** Memory of the idle runs the zero-page figures come from. */
    memoryMiB: number;
    /** Pages an idle lab guest holds that are not all zero (median of the idle runs' full pages). */
    idleNonzeroPages: number;
    /** Share of the working set that lands on pages that were zero in an idle guest. */
    wssOnZeroFraction: number;
    /** Real page-write rate / nominal (guest heartbeat), for the dirtying workloads. */
    rateFactor: number;
    /** workload.cpuShare (what auto-converge's throttle acts on). */
    cpuShare: number;
  };
  /** Measured fixed costs the fluid baseline uses. */
  fixed: { setupMs: number };
  /** How each value was obtained. */
  method: Record<string, string>;
  fit: { objective: string; lossBefore: number | null; lossAfter: number | null; evaluations: number };
}

/**
 * A calibration as JSON text, laid out as the repository's formatter (biome) lays it out: two-space
 * indent, arrays of scalars on one line when they fit in 110 columns.
 */
export function calibrationJson(c: Calibration): string {
  const text = JSON.stringify(c, null, 2);
  const out = text.replace(/\[\n([^[\]{}]*?)\n\s*\]/g, (m: string, body: string, offset: number) => {
    const one = `[${body
      .split(',\n')
      .map((x) => x.trim())
      .join(', ')}]`;
    const lineStart = text.lastIndexOf('\n', offset) + 1;
    return offset - lineStart + one.length + 1 <= 110 ? one : m;
  });
  return `${out}\n`;
}

/** Read a calibration file. */
export function loadCalibration(file: string): Calibration {
  let c: Calibration;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Calibration;
  } catch (err) {
    throw new UsageError(`${file}: cannot read a calibration (${(err as Error).message.split('\n')[0]})`);
  }
  if (c.format !== CALIBRATION_FORMAT)
    throw new UsageError(`${file}: format: expected ${CALIBRATION_FORMAT} (got ${String(c.format)})`);
  return c;
}

const MIB_PAGES = PAGES_PER_MIB;

/** Zero pages the simulated guest should start with: the idle guest's zero pages minus what the working set
 * takes from them, as a share of the pages outside the working set (vm.uniformPageFraction). */
export function zeroShare(s: Scenario, c: Calibration): number {
  const pages = Math.round(s.vm.memoryMiB * MIB_PAGES);
  const wss = s.workload.kind === 'idle' ? 0 : Math.min(pages, Math.round(s.workload.wssMiB * MIB_PAGES));
  const zero = pages - c.guest.idleNonzeroPages - c.guest.wssOnZeroFraction * wss;
  const rest = pages - wss;
  return rest > 0 ? Math.min(1, Math.max(0, zero / rest)) : 0;
}

/** The scenario the simulator runs for a matrix scenario: the lab's bare QMP client (no libvirt), the
 * calibrated host costs and link, the lab guest's zero pages and real dirtying rate. */
export function applyCalibration(scn: Scenario, c: Calibration): Scenario {
  // A replay is calibrated as the guest it replays (its working set decides the zero pages).
  const s = structuredClone(replayScenario(scn));
  s.libvirt.enabled = false;
  s.host = { ...s.host, ...c.host };
  s.network = { ...s.network, ...c.network };
  s.vm.uniformPageFraction = zeroShare(s, c);
  if (s.workload.kind !== 'idle') {
    s.workload.dirtyRateMiBps *= c.guest.rateFactor;
    s.workload.cpuShare = c.guest.cpuShare;
  }
  return s;
}

/** The real runs of one scenario, for calibration and evaluation. */
export interface ScenarioRuns {
  entry: MatrixEntry;
  reals: RealRun[];
}

/** A parameter the fit varies: where it lives in a Calibration, and the values its first pass tries. */
interface FitParam {
  name: string;
  get: (c: Calibration) => number;
  set: (c: Calibration, v: number) => void;
  grid: number[];
  log: boolean;
  /** The values the fit may take (physically plausible for a host). */
  bounds: [number, number];
}

const logGrid = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(3)));

/** A fitted parameter named by its place in a Calibration ("section.key"). */
function fitParam(
  name: `${'host' | 'network' | 'guest'}.${string}`,
  grid: number[],
  log: boolean,
  bounds: [number, number],
): FitParam {
  const [section, key] = name.split('.') as ['host' | 'network' | 'guest', string];
  const values = (c: Calibration) => c[section] as unknown as Record<string, number>;
  return {
    name,
    get: (c) => values(c)[key]!,
    set: (c, v) => {
      values(c)[key] = v;
    },
    grid,
    log,
    bounds,
  };
}

const FIT_PARAMS: FitParam[] = [
  fitParam('network.bandwidthMbps', logGrid(400, 40_000, 21), true, [100, 100_000]),
  fitParam('host.pageCopyNs', logGrid(50, 20_000, 21), true, [10, 100_000]),
  fitParam('host.bitmapSyncNsPerGiB', logGrid(1e5, 3e9, 21), true, [1e4, 1e10]),
  fitParam('host.bitmapSyncNsPerDirtyPage', logGrid(50, 30_000, 21), true, [1, 100_000]),
  // Loopback TCP: the send buffer plus the receiver's (Linux tcp_wmem/tcp_rmem maxima: 4 and 6 MiB).
  fitParam('network.sendBufferKiB', logGrid(1024, 16_384, 9), true, [1024, 16_384]),
  fitParam('host.deviceSaveMs', [0, 0.5, 1, 2, 3, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40], false, [0, 100]),
];

const CPU_SHARE = fitParam(
  'guest.cpuShare',
  [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1],
  true,
  [0.01, 1],
);

/**
 * The fit's loss: mean over scenarios of capped APEs of total time and bytes plus half those of downtime
 * and setup time. Setup time (query-migrate setup-time: mostly the first dirty-bitmap sync, every page
 * dirty) pins the per-page sync cost on its own, so the link and per-page send cost cannot make up for it.
 */
export const FIT_OBJECTIVE =
  'mean over calibration scenarios of min(APE total time, 100) + min(APE bytes, 100) + 0.5 × min(APE downtime, 100) + 0.5 × min(APE setup time, 100), against the median real run';

/** Figures of the simulation of `scn` under calibration `c`, with its setup time. */
export function simulateFigures(scn: Scenario, c: Calibration): Figures & { setupTimeMs: number | null } {
  const r = simulate(applyCalibration(scn, c), { granularity: 'none', trackVersions: false }).result;
  return { ...resultFigures(r), setupTimeMs: r.setupTimeMs };
}

function loss(runs: ScenarioRuns[], c: Calibration): number {
  let sum = 0;
  let n = 0;
  for (const r of runs) {
    const real = medianFigures(r.reals.map((x) => resultFigures(x.result)));
    const realSetup = median(r.reals.map((x) => x.result.setupTimeMs).filter((x): x is number => x !== null));
    const sim = simulateFigures(withLayout(r.entry), c);
    const cap = (x: number | null) => Math.min(100, x ?? 100);
    sum += cap(ape(sim.totalTimeMs, real.totalTimeMs)) + cap(ape(sim.bytes, real.bytes));
    if (real.downtimeMs !== null) sum += 0.5 * cap(ape(sim.downtimeMs, real.downtimeMs));
    if (realSetup !== null) sum += 0.5 * cap(ape(sim.setupTimeMs, realSetup));
    n++;
  }
  return n ? sum / n : 0;
}

/** Starting values: the scenario defaults of the 7.2 model. */
export function defaultCalibration(): Calibration {
  return {
    format: CALIBRATION_FORMAT,
    name: 'defaults',
    model: 'qemu-7.2',
    description: 'the scenario defaults, uncalibrated',
    provenance: {
      measuredAt: '',
      host: { cpus: 0, kernel: '' },
      qemuVersion: null,
      matrix: '',
      scenarios: [],
      realRuns: 0,
      loadavg1: null,
      command: '',
    },
    host: {
      pageCopyNs: 900,
      bitmapSyncNsPerGiB: 2_000_000,
      bitmapSyncNsPerDirtyPage: 0,
      deviceSaveMs: 2,
      deviceLoadMs: 5,
      monitorRttUs: 50,
    },
    network: { bandwidthMbps: 1000, rttMs: 0.2, sendBufferKiB: 4096 },
    guest: { memoryMiB: 0, idleNonzeroPages: 0, wssOnZeroFraction: 1, rateFactor: 1, cpuShare: 0.2 },
    fixed: { setupMs: 0 },
    method: {},
    fit: { objective: FIT_OBJECTIVE, lossBefore: null, lossAfter: null, evaluations: 0 },
  };
}

/** Options of `fitCalibration`. */
export interface FitOptions {
  name: string;
  matrix: string;
  command: string;
  /** Coordinate-descent passes (default 3). */
  passes?: number;
  /** Evaluations of the final Nelder-Mead search (default 150; 0 = none). */
  nelderMeadEvals?: number;
  /** Further starting points of the fit (their fitted values are used; the guest facts are measured). */
  starts?: Calibration[];
  onProgress?: (msg: string) => void;
}

/**
 * Calibrate on `runs` (the calibration subset): measure the guest facts directly from the real runs, then
 * fit the host costs by coordinate descent on FIT_OBJECTIVE (each parameter in turn over a grid, then
 * finer steps around the best value).
 */
export function fitCalibration(runs: ScenarioRuns[], opts: FitOptions): Calibration {
  const usable = runs.filter((r) => r.reals.some((x) => x.result.outcome === 'completed'));
  if (usable.length === 0)
    throw new UsageError('calibration: no completed real run in the calibration subset');
  const ok = (r: ScenarioRuns) => r.reals.filter((x) => x.result.outcome === 'completed');
  const idle = usable.filter(
    (r) => r.entry.scenario.workload.kind === 'idle' && !r.entry.scenario.disk?.migrate,
  );
  if (idle.length === 0)
    throw new UsageError(
      'calibration: the calibration subset needs an idle scenario (for the guest zero pages)',
    );
  const memoryMiB = idle[0]!.entry.scenario.vm.memoryMiB;
  const c = defaultCalibration();
  c.name = opts.name;
  c.description = `host costs of the QEMU 7.2 lab (TCG, loopback) fitted on matrix ${opts.matrix}`;
  const pagesOf = (s: Scenario) => Math.round(s.vm.memoryMiB * MIB_PAGES);
  // Zero pages: an idle guest sends each page once, so its ZERO records count its zero pages.
  const idleZero = median(idle.flatMap((r) => ok(r).map((x) => x.result.pages.uniform)))!;
  c.guest.memoryMiB = memoryMiB;
  c.guest.idleNonzeroPages = Math.round(pagesOf(idle[0]!.entry.scenario) - idleZero);
  const alphas: number[] = [];
  for (const r of usable) {
    const s = r.entry.scenario;
    if (
      s.workload.kind === 'idle' ||
      s.disk?.migrate ||
      s.vm.memoryMiB !== memoryMiB ||
      s.workload.wssMiB <= 0
    )
      continue;
    const wss = Math.round(s.workload.wssMiB * MIB_PAGES);
    for (const x of ok(r)) alphas.push((idleZero - x.result.pages.uniform) / wss);
  }
  c.guest.wssOnZeroFraction = alphas.length ? Math.min(1, Math.max(0, median(alphas)!)) : 1;
  const factors: number[] = [];
  for (const r of usable) {
    const s = r.entry.scenario;
    if (
      s.workload.kind === 'idle' ||
      s.workload.dirtyRateMiBps <= 0 ||
      s.migration.capabilities.includes('auto-converge')
    )
      continue;
    for (const x of ok(r)) {
      const g = x.result.extra.guestRateMiBps;
      if (typeof g === 'number' && g > 0) factors.push(g / s.workload.dirtyRateMiBps);
    }
  }
  c.guest.rateFactor = factors.length ? Number(median(factors)!.toFixed(4)) : 1;
  const setups = usable
    .flatMap((r) => ok(r).map((x) => x.result.setupTimeMs))
    .filter((x): x is number => x !== null);
  c.fixed.setupMs = median(setups) ?? 0;
  // The sustained throughput of the loopback under TCG, where the calibration has unlimited runs: their
  // first pass moves the whole RAM as fast as sender and receiver go. A burst (the final pass after a
  // rate-limited pre-copy) goes faster, into the socket buffers (network.sendBufferKiB, fitted); the same
  // buffers make the first pass look faster than the link by up to their size, so the fit may lower the
  // measured value by up to a quarter, never raise it.
  const sustained = median(
    usable
      .filter((r) => r.entry.scenario.migration.maxBandwidthMiBps === 0 && !r.entry.scenario.disk?.migrate)
      .flatMap((r) => ok(r).map((x) => firstPassMbps(x.result)))
      .filter((x): x is number => x !== null),
  );
  if (sustained !== null) c.network.bandwidthMbps = Math.round(sustained);

  const params = FIT_PARAMS.map((p) =>
    p.name === 'network.bandwidthMbps' && sustained !== null ? measuredLink(p, Math.round(sustained)) : p,
  );
  if (usable.some((r) => r.entry.scenario.migration.capabilities.includes('auto-converge')))
    params.push(CPU_SHARE);
  let evaluations = 0;
  const evalAt = (x: Calibration) => {
    evaluations++;
    return loss(usable, x);
  };
  c.fit.lossBefore = Number(evalAt(c).toFixed(3));
  // From the defaults, and from each given start (e.g. the stored calibration): the loss has local minima
  // (a per-GiB sync cost can stand in for the per-page one), so the best of several descents is kept.
  let best = descend(c, params, evalAt, opts);
  for (const start of opts.starts ?? []) {
    const x = structuredClone(c);
    for (const p of params) p.set(x, p.get(start));
    opts.onProgress?.(`fit: again from ${start.name}`);
    const l = descend(x, params, evalAt, opts);
    if (l < best - 1e-9) {
      best = l;
      for (const p of params) p.set(c, p.get(x));
    }
  }
  c.fit.lossAfter = Number(best.toFixed(3));
  c.fit.evaluations = evaluations;

  const all = usable.flatMap(ok);
  const loads = all.map((x) => x.loadavg[0]).sort((a, b) => a - b);
  c.provenance = {
    measuredAt: all.map((x) => x.measuredAt).sort()[0] ?? '',
    host: { cpus: cpus().length, kernel: release() },
    qemuVersion: String(all[0]?.result.extra.qemuVersion ?? '') || null,
    matrix: opts.matrix,
    scenarios: usable.map((r) => r.entry.name),
    realRuns: all.length,
    loadavg1: loads.length ? [loads[0]!, median(loads)!, loads[loads.length - 1]!] : null,
    command: opts.command,
  };
  c.method = {
    'guest.idleNonzeroPages': `measured: pages of the ${memoryMiB} MiB guest minus the median ZERO pages (query-migrate ram.duplicate) of the idle calibration runs (only for guests without a measured layout, vm.layout)`,
    'guest.wssOnZeroFraction':
      'measured: median over dirtying calibration runs of (idle ZERO pages - ZERO pages) / working-set pages (only for guests without a measured layout, vm.layout)',
    'guest.rateFactor':
      "measured: median of the guest heartbeat's page-write rate / the scenario's rate (runs without auto-converge)",
    'fixed.setupMs':
      'measured: median query-migrate setup-time of the calibration runs (used by the fluid baseline)',
    'network.bandwidthMbps':
      sustained !== null
        ? `measured: effective loopback throughput under TCG, the median wire rate (bytes / time) of the first pass of the unlimited-bandwidth calibration runs (${Math.round(sustained)} Mbit/s), then refined down to 0.75 × that by the fit (socket buffers inflate the measure); ${FIT_OBJECTIVE}`
        : `fitted (coordinate descent): effective loopback throughput under TCG; ${FIT_OBJECTIVE}`,
    'network.sendBufferKiB':
      'fitted (coordinate descent, same objective): bytes the sender can hand to the kernel before the receiver reads them (loopback send + receive buffers)',
    'host.pageCopyNs': 'fitted (coordinate descent, same objective): host cost per page in the send loop',
    'host.bitmapSyncNsPerGiB':
      'fitted (coordinate descent, same objective): dirty-log sync cost per GiB of guest RAM',
    'host.bitmapSyncNsPerDirtyPage':
      'fitted (coordinate descent, same objective): dirty-log sync cost per page in the log (all pages at setup)',
    'host.deviceSaveMs': 'fitted (coordinate descent, same objective): fixed switchover cost on the source',
    'guest.cpuShare': params.includes(CPU_SHARE)
      ? 'fitted (coordinate descent, same objective) on the auto-converge calibration scenarios'
      : 'not fitted (no auto-converge scenario in the calibration subset): the scenario default',
    'host.deviceLoadMs, host.monitorRttUs, network.rttMs':
      "not fitted: QEMU's downtime and total time on the source do not depend on them",
  };
  return c;
}

/** The link parameter refined within [0.75, 1] × the measured sustained throughput. */
function measuredLink(p: FitParam, mbps: number): FitParam {
  return {
    ...p,
    grid: [0.75, 0.8, 0.85, 0.9, 0.95, 1].map((f) => Math.round(f * mbps)),
    bounds: [Math.round(0.75 * mbps), mbps],
  };
}

/** Wire rate of a run's first pass after setup, Mbit/s; null when it has no timed first pass. */
export function firstPassMbps(r: MigrationResult): number | null {
  const it = r.iterations[0];
  // A real run's first pass starts when setup ends; a simulated one's at the migrate command.
  const start = it ? Math.max(it.startMs, r.setupTimeMs ?? 0) : 0;
  if (!it || it.endMs <= start) return null;
  return (it.bytes * 8) / ((it.endMs - start) * 1000);
}

/** Coordinate descent, then Nelder-Mead, from `c` (changed in place); returns the loss reached. */
function descend(
  c: Calibration,
  params: FitParam[],
  evalAt: (x: Calibration) => number,
  opts: FitOptions,
): number {
  let best = evalAt(c);
  const passes = opts.passes ?? 3;
  for (let pass = 0; pass < passes; pass++) {
    for (const p of params) {
      const cur = p.get(c);
      const clamp = (v: number) => Math.min(p.bounds[1], Math.max(p.bounds[0], v));
      const tries =
        pass === 0
          ? p.grid
          : p.log
            ? [0.7, 0.8, 0.9, 1.1, 1.25, 1.4].map((f) => clamp(Number((cur * f).toPrecision(3))))
            : [-2, -1, -0.5, 0.5, 1, 2].map((d) => clamp(cur + d));
      let bestV = cur;
      for (const v of tries) {
        if (v === cur) continue;
        const trial = structuredClone(c);
        p.set(trial, v);
        const l = evalAt(trial);
        if (l < best - 1e-9) {
          best = l;
          bestV = v;
        }
      }
      p.set(c, bestV);
      opts.onProgress?.(`fit pass ${pass + 1}: ${p.name} = ${bestV} (loss ${best.toFixed(2)})`);
    }
  }
  // Coordinate descent stalls where parameters trade off (the per-page cost and the link both bound the
  // throughput): finish with Nelder-Mead over all of them (log scale for the log-gridded ones).
  const toX = (x: Calibration) => params.map((p) => (p.log ? Math.log(Math.max(p.get(x), 1e-9)) : p.get(x)));
  const fromX = (v: number[]) => {
    const x = structuredClone(c);
    params.forEach((p, i) => {
      const raw = p.log ? Math.exp(v[i]!) : v[i]!;
      const y = Math.min(p.bounds[1], Math.max(p.bounds[0], raw));
      p.set(x, Number(y.toPrecision(4)));
    });
    return x;
  };
  const nm = nelderMead(
    (v) => evalAt(fromX(v)),
    toX(c),
    params.map((p) => (p.log ? 0.15 : 1)),
    opts.nelderMeadEvals ?? 150,
  );
  if (nm.f < best - 1e-9) {
    best = nm.f;
    const x = fromX(nm.x);
    for (const p of params) p.set(c, p.get(x));
  }
  opts.onProgress?.(
    `fit Nelder-Mead: loss ${best.toFixed(2)} (${params.map((p) => `${p.name} = ${p.get(c)}`).join(', ')})`,
  );
  return best;
}

/** Minimise `f` from `x0` with the Nelder-Mead simplex (initial steps `step`), within `maxEvals` calls. */
export function nelderMead(
  f: (x: number[]) => number,
  x0: number[],
  step: number[],
  maxEvals: number,
): { x: number[]; f: number; evals: number } {
  const n = x0.length;
  let evals = 0;
  const F = (x: number[]) => {
    evals++;
    return f(x);
  };
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step[i]! : v)))].map((x) => ({
    x,
    f: 0,
  }));
  if (maxEvals <= n) return { x: x0, f: F(x0), evals };
  for (const p of simplex) p.f = F(p.x);
  const add = (a: number[], b: number[], k: number) => a.map((v, i) => v + k * (b[i]! - v));
  while (evals < maxEvals) {
    simplex.sort((a, b) => a.f - b.f);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    const centroid = x0.map((_, i) => simplex.slice(0, n).reduce((s, p) => s + p.x[i]!, 0) / n);
    const xr = add(centroid, worst.x, -1);
    const fr = F(xr);
    if (fr < best.f) {
      const xe = add(centroid, worst.x, -2);
      const fe = F(xe);
      simplex[n] = fe < fr ? { x: xe, f: fe } : { x: xr, f: fr };
    } else if (fr < simplex[n - 1]!.f) {
      simplex[n] = { x: xr, f: fr };
    } else {
      const xc = add(centroid, worst.x, 0.5);
      const fc = F(xc);
      if (fc < worst.f) simplex[n] = { x: xc, f: fc };
      else {
        simplex = simplex.map((p, i) => (i === 0 ? p : { x: add(best.x, p.x, 0.5), f: 0 }));
        for (const p of simplex.slice(1)) p.f = F(p.x);
      }
    }
  }
  simplex.sort((a, b) => a.f - b.f);
  return { x: simplex[0]!.x, f: simplex[0]!.f, evals };
}
