/**
 * Sweep plots: a metric (total time, downtime, bytes) against the swept parameters, as SVG strings.
 * A heatmap puts two parameters on the axes and colours each cell by the metric's mean over the runs in
 * it (other parameters and repeats); a line plot puts one parameter on x, with one line per value of an
 * optional series parameter. Runs that did not converge are marked: a cell gets a cross, a point becomes a
 * red cross, and the count is in the subtitle. Data in, string out: no files, no globals.
 */

/** A swept parameter's value. */
export type ParamValue = number | string | boolean;

/** One run as the plots see it. */
export interface SweepPlotRow {
  params: Record<string, ParamValue>;
  /** Metric key → value; null when the run has none (failed, or no downtime). */
  metrics: Record<string, number | null>;
  /** Whether the pre-copy loop reached its stop condition by itself. */
  converged: boolean;
  /** The run failed (no result): shown as a missing value, not as a non-converged run. */
  failed?: boolean;
}

/** A metric to plot: key in `metrics`, label, and unit after scaling by `factor`. */
export interface Metric {
  key: string;
  label: string;
  unit: string;
  factor: number;
}

/** The metrics plotted by default. */
export const DEFAULT_METRICS: readonly Metric[] = [
  { key: 'totalTimeMs', label: 'total time', unit: 's', factor: 1 / 1000 },
  { key: 'downtimeMs', label: 'downtime', unit: 'ms', factor: 1 },
  { key: 'bytes.total', label: 'bytes sent', unit: 'MiB', factor: 1 / 2 ** 20 },
];

/** Defaults of every plot. */
export const SWEEP_PLOT_DEFAULTS = {
  width: 720,
  height: 460,
  margin: { top: 56, right: 150, bottom: 56, left: 84 },
  /** More distinct values than this on an axis and they are binned (heatmap) or scattered (line plot). */
  maxCategories: 16,
  /** Bins per axis when binning. */
  bins: 12,
  font: 'sans-serif',
} as const;

/** Options of a heatmap. */
export interface HeatmapOptions {
  x: string;
  y: string;
  metric: Metric;
  title?: string;
  width?: number;
  height?: number;
}

/** Options of a line plot. */
export interface LinePlotOptions {
  x: string;
  metric: Metric;
  /** A parameter with one line per value (at most maxCategories values). */
  series?: string;
  title?: string;
  width?: number;
  height?: number;
}

const NONCONV = '#d62728';
const SERIES_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
];
// Viridis, 6 stops: perceptually uniform and readable in greyscale.
const VIRIDIS = ['#440154', '#414487', '#2a788e', '#22a884', '#7ad151', '#fde725'];

const r2 = (v: number) => Math.round(v * 100) / 100;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A short label for a number: 3 significant digits, k/M suffixes for big ones. */
export function formatValue(v: ParamValue): string {
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function hexToRgb(h: string): [number, number, number] {
  return [
    Number.parseInt(h.slice(1, 3), 16),
    Number.parseInt(h.slice(3, 5), 16),
    Number.parseInt(h.slice(5, 7), 16),
  ];
}

/** Viridis colour at t in [0, 1]. */
export function colorAt(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = hexToRgb(VIRIDIS[i]!);
  const b = hexToRgb(VIRIDIS[i + 1]!);
  const f = x - i;
  return `#${a
    .map((c, k) =>
      Math.round(c + (b[k]! - c) * f)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

function compareValues(a: ParamValue, b: ParamValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/** An axis of categories: distinct values, or bins of a numeric range when there are too many. */
interface Axis {
  labels: string[];
  indexOf(v: ParamValue): number;
}

function categoryAxis(values: ParamValue[]): Axis {
  const uniq = [...new Set(values)].sort(compareValues);
  const maxCat = SWEEP_PLOT_DEFAULTS.maxCategories;
  const nums = uniq.filter((v): v is number => typeof v === 'number');
  if (uniq.length <= maxCat || nums.length !== uniq.length) {
    const pos = new Map(uniq.map((v, i) => [v, i]));
    return { labels: uniq.map(formatValue), indexOf: (v) => pos.get(v) ?? -1 };
  }
  const lo = nums[0]!;
  const hi = nums[nums.length - 1]!;
  const log = lo > 0 && hi / lo >= 20;
  const f = (v: number) => (log ? Math.log(v) : v);
  const n = SWEEP_PLOT_DEFAULTS.bins;
  const edges = Array.from({ length: n + 1 }, (_, i) =>
    log ? lo * (hi / lo) ** (i / n) : lo + ((hi - lo) * i) / n,
  );
  return {
    labels: edges.slice(0, n).map((e, i) => `${formatValue(e)}–${formatValue(edges[i + 1]!)}`),
    indexOf: (v) =>
      typeof v === 'number' ? Math.min(n - 1, Math.floor(((f(v) - f(lo)) / (f(hi) - f(lo) || 1)) * n)) : -1,
  };
}

function header(width: number, height: number, title: string, subtitle: string): string {
  const font = SWEEP_PLOT_DEFAULTS.font;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${font}" font-size="11">\n` +
    `<rect width="${width}" height="${height}" fill="#fff"/>\n` +
    `<text class="title" x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>\n` +
    `<text class="subtitle" x="${width / 2}" y="38" text-anchor="middle" fill="#555">${esc(subtitle)}</text>\n`
  );
}

function cross(cx: number, cy: number, s: number, cls: string, color: string, title: string): string {
  return `<path class="${cls}" d="M${r2(cx - s)},${r2(cy - s)}L${r2(cx + s)},${r2(cy + s)}M${r2(cx - s)},${r2(cy + s)}L${r2(cx + s)},${r2(cy - s)}" stroke="${color}" stroke-width="2" fill="none"><title>${esc(title)}</title></path>\n`;
}

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Nice round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function nonConvergedNote(rows: readonly SweepPlotRow[]): string {
  const failed = rows.filter((r) => r.failed).length;
  const ran = rows.length - failed;
  const n = rows.filter((r) => !r.failed && !r.converged).length;
  const note = n > 0 ? `${n} of ${ran} runs did not converge (marked ×)` : `all ${ran} runs converged`;
  return failed > 0 ? `${note}; ${failed} failed (no value)` : note;
}

/** A legend or axis name: the last part of a long dot path. */
function shortName(path: string): string {
  return path.length > 18 ? path.slice(path.lastIndexOf('.') + 1) : path;
}

/** A heatmap of `metric` over parameters `x` and `y` (cell = mean over the runs that fall in it). */
export function sweepHeatmap(rows: readonly SweepPlotRow[], o: HeatmapOptions): string {
  const width = o.width ?? SWEEP_PLOT_DEFAULTS.width;
  const height = o.height ?? SWEEP_PLOT_DEFAULTS.height;
  const m = SWEEP_PLOT_DEFAULTS.margin;
  const xa = categoryAxis(rows.map((r) => r.params[o.x]!).filter((v) => v !== undefined));
  const ya = categoryAxis(rows.map((r) => r.params[o.y]!).filter((v) => v !== undefined));
  const cells = new Map<string, { values: number[]; runs: number; nonConverged: number }>();
  for (const r of rows) {
    const i = xa.indexOf(r.params[o.x]!);
    const j = ya.indexOf(r.params[o.y]!);
    if (i < 0 || j < 0) continue;
    const c = cells.get(`${i},${j}`) ?? { values: [], runs: 0, nonConverged: 0 };
    c.runs++;
    if (!r.converged && !r.failed) c.nonConverged++;
    const v = r.metrics[o.metric.key];
    if (v !== null && v !== undefined && Number.isFinite(v)) c.values.push(v * o.metric.factor);
    cells.set(`${i},${j}`, c);
  }
  const means = [...cells.values()].map((c) => mean(c.values)).filter((v): v is number => v !== null);
  const lo = means.length ? Math.min(...means) : 0;
  const hi = means.length ? Math.max(...means) : 1;
  const title = o.title ?? `${o.metric.label} (${o.metric.unit}) by ${o.x} and ${o.y}`;
  let svg = header(width, height, title, nonConvergedNote(rows));
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const cw = pw / Math.max(1, xa.labels.length);
  const ch = ph / Math.max(1, ya.labels.length);
  svg += `<g class="cells" transform="translate(${m.left},${m.top})">\n`;
  for (let i = 0; i < xa.labels.length; i++) {
    for (let j = 0; j < ya.labels.length; j++) {
      const c = cells.get(`${i},${j}`);
      if (!c) continue;
      const v = mean(c.values);
      const x = i * cw;
      const y = ph - (j + 1) * ch;
      const fill = v === null ? '#ccc' : colorAt(hi > lo ? (v - lo) / (hi - lo) : 0.5);
      const tip = `${o.x}=${xa.labels[i]}, ${o.y}=${ya.labels[j]}: ${v === null ? 'no value' : `${formatValue(v)} ${o.metric.unit}`} (${c.runs} runs, ${c.nonConverged} not converged)`;
      svg += `<rect class="cell" x="${r2(x)}" y="${r2(y)}" width="${r2(cw)}" height="${r2(ch)}" fill="${fill}" stroke="#fff" data-value="${v === null ? '' : Number(v.toPrecision(6))}"><title>${esc(tip)}</title></rect>\n`;
      if (c.nonConverged > 0) {
        // A cross in the cell's corner, so that the value stays readable.
        const k = Math.max(3, Math.min(9, Math.min(cw, ch) / 8));
        const light = v !== null && (hi > lo ? (v - lo) / (hi - lo) : 0.5) > 0.6;
        svg += cross(x + cw - 2 * k, y + 2 * k, k, 'nonconverged', light ? NONCONV : '#fff', tip);
      }
      // Values in the cells when they fit; dark text on the light end of the ramp.
      if (v !== null && cw >= 44 && ch >= 18) {
        const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        svg += `<text class="cell-value" x="${r2(x + cw / 2)}" y="${r2(y + ch / 2 + 4)}" text-anchor="middle" fill="${t > 0.6 ? '#222' : '#fff'}">${esc(formatValue(v))}</text>\n`;
      }
    }
  }
  svg += '</g>\n';
  svg += `<g class="x-axis" transform="translate(${m.left},${m.top + ph})">\n`;
  xa.labels.forEach((l, i) => {
    svg += `<text x="${r2((i + 0.5) * cw)}" y="16" text-anchor="middle">${esc(l)}</text>\n`;
  });
  svg += `<text x="${r2(pw / 2)}" y="38" text-anchor="middle" font-weight="bold">${esc(o.x)}</text>\n</g>\n`;
  svg += `<g class="y-axis" transform="translate(${m.left},${m.top})">\n`;
  ya.labels.forEach((l, j) => {
    svg += `<text x="-6" y="${r2(ph - (j + 0.5) * ch + 4)}" text-anchor="end">${esc(l)}</text>\n`;
  });
  svg += `<text transform="translate(${-m.left + 16},${r2(ph / 2)}) rotate(-90)" text-anchor="middle" font-weight="bold">${esc(o.y)}</text>\n</g>\n`;
  // Colour legend: a vertical ramp with min and max.
  const lx = width - m.right + 24;
  svg += `<g class="legend" transform="translate(${lx},${m.top})">\n`;
  const steps = 20;
  for (let k = 0; k < steps; k++)
    svg += `<rect x="0" y="${r2((ph * k) / steps)}" width="14" height="${r2(ph / steps + 0.5)}" fill="${colorAt(1 - k / (steps - 1))}"/>\n`;
  svg += `<text x="20" y="10">${esc(`${formatValue(hi)} ${o.metric.unit}`)}</text>\n`;
  svg += `<text x="20" y="${r2(ph)}">${esc(`${formatValue(lo)} ${o.metric.unit}`)}</text>\n`;
  svg += `<rect x="0" y="${r2(ph + 12)}" width="14" height="14" fill="#ccc"/><text x="20" y="${r2(ph + 23)}">no value</text>\n`;
  svg += '</g>\n</svg>\n';
  return svg;
}

/** A line plot of `metric` against parameter `x` (means over other parameters and repeats). */
export function sweepLinePlot(rows: readonly SweepPlotRow[], o: LinePlotOptions): string {
  const width = o.width ?? SWEEP_PLOT_DEFAULTS.width;
  const height = o.height ?? SWEEP_PLOT_DEFAULTS.height;
  const m = SWEEP_PLOT_DEFAULTS.margin;
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const xs = rows.map((r) => r.params[o.x]).filter((v): v is ParamValue => v !== undefined);
  const uniqX = [...new Set(xs)].sort(compareValues);
  const numeric = uniqX.every((v) => typeof v === 'number');
  // Few distinct x values: evenly spaced and joined by lines. Many (random, lhs): a scatter on a numeric axis.
  const scatter = numeric && uniqX.length > SWEEP_PLOT_DEFAULTS.maxCategories;
  const seriesValues = o.series
    ? [...new Set(rows.map((r) => r.params[o.series!]!))].sort(compareValues)
    : [null];
  const xLo = scatter ? (uniqX[0] as number) : 0;
  const xHi = scatter ? (uniqX[uniqX.length - 1] as number) : 1;
  const logX = scatter && xLo > 0 && xHi / xLo >= 20;
  const fx = (v: ParamValue): number => {
    if (!scatter) return uniqX.length === 1 ? pw / 2 : (uniqX.indexOf(v) / (uniqX.length - 1)) * pw;
    const t = logX
      ? Math.log((v as number) / xLo) / Math.log(xHi / xLo)
      : ((v as number) - xLo) / (xHi - xLo || 1);
    return t * pw;
  };
  interface Pt {
    x: ParamValue;
    v: number | null;
    runs: number;
    nonConverged: number;
  }
  const lines: { series: ParamValue | null; pts: Pt[] }[] = [];
  let all: number[] = [];
  for (const s of seriesValues) {
    const mine = rows.filter((r) => s === null || r.params[o.series!] === s);
    const pts: Pt[] = [];
    if (scatter) {
      for (const r of mine) {
        const v = r.metrics[o.metric.key];
        const val = v === null || v === undefined ? null : v * o.metric.factor;
        pts.push({ x: r.params[o.x]!, v: val, runs: 1, nonConverged: r.converged || r.failed ? 0 : 1 });
      }
    } else {
      for (const x of uniqX) {
        const group = mine.filter((r) => r.params[o.x] === x);
        if (!group.length) continue;
        const vals = group
          .map((r) => r.metrics[o.metric.key])
          .filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
        const mv = mean(vals.map((v) => v * o.metric.factor));
        pts.push({
          x,
          v: mv,
          runs: group.length,
          nonConverged: group.filter((r) => !r.converged && !r.failed).length,
        });
      }
    }
    all = all.concat(pts.map((p) => p.v).filter((v): v is number => v !== null));
    lines.push({ series: s, pts });
  }
  const yTicks = niceTicks(Math.min(0, ...all), all.length ? Math.max(...all) : 1);
  const yLo = yTicks[0]!;
  const yHi = Math.max(yTicks[yTicks.length - 1]!, all.length ? Math.max(...all) : 1);
  const fy = (v: number) => ph - ((v - yLo) / (yHi - yLo || 1)) * ph;
  const title =
    o.title ?? `${o.metric.label} (${o.metric.unit}) against ${o.x}${o.series ? ` by ${o.series}` : ''}`;
  let svg = header(width, height, title, nonConvergedNote(rows));
  svg += `<g class="plot" transform="translate(${m.left},${m.top})">\n`;
  for (const t of yTicks)
    svg += `<line class="grid" x1="0" x2="${pw}" y1="${r2(fy(t))}" y2="${r2(fy(t))}" stroke="#eee"/><text x="-6" y="${r2(fy(t) + 4)}" text-anchor="end">${esc(formatValue(t))}</text>\n`;
  const xTicks: ParamValue[] = scatter ? (logX ? logTicks(xLo, xHi) : niceTicks(xLo, xHi)) : uniqX;
  for (const t of xTicks)
    svg += `<text class="x-tick" x="${r2(fx(t))}" y="${ph + 16}" text-anchor="middle">${esc(formatValue(t))}</text>\n`;
  svg += `<line x1="0" x2="${pw}" y1="${ph}" y2="${ph}" stroke="#333"/><line x1="0" x2="0" y1="0" y2="${ph}" stroke="#333"/>\n`;
  lines.forEach((line, k) => {
    const color = SERIES_COLORS[k % SERIES_COLORS.length]!;
    const withV = line.pts.filter((p) => p.v !== null);
    if (!scatter && withV.length > 1)
      svg += `<path class="line" d="${withV.map((p, i) => `${i ? 'L' : 'M'}${r2(fx(p.x))},${r2(fy(p.v!))}`).join('')}" fill="none" stroke="${color}" stroke-width="1.5"/>\n`;
    for (const p of withV) {
      const tip = `${o.x}=${formatValue(p.x)}${line.series !== null ? `, ${o.series}=${formatValue(line.series)}` : ''}: ${formatValue(p.v!)} ${o.metric.unit} (${p.runs} runs, ${p.nonConverged} not converged)`;
      if (p.nonConverged > 0) svg += cross(fx(p.x), fy(p.v!), 4, 'point nonconverged', NONCONV, tip);
      else
        svg += `<circle class="point" cx="${r2(fx(p.x))}" cy="${r2(fy(p.v!))}" r="${scatter ? 2.5 : 3.5}" fill="${color}"><title>${esc(tip)}</title></circle>\n`;
    }
  });
  svg += `<text x="${r2(pw / 2)}" y="${ph + 38}" text-anchor="middle" font-weight="bold">${esc(o.x)}</text>\n`;
  svg += `<text transform="translate(${-m.left + 16},${r2(ph / 2)}) rotate(-90)" text-anchor="middle" font-weight="bold">${esc(`${o.metric.label} (${o.metric.unit})`)}</text>\n`;
  svg += '</g>\n';
  svg += `<g class="legend" transform="translate(${width - m.right + 16},${m.top})">\n`;
  let ly = 0;
  if (o.series) {
    svg += `<text x="0" y="${ly}" font-weight="bold">${esc(shortName(o.series))}</text>\n`;
    lines.forEach((line, k) => {
      ly += 16;
      svg += `<rect x="0" y="${ly - 9}" width="10" height="10" fill="${SERIES_COLORS[k % SERIES_COLORS.length]}"/><text x="16" y="${ly}">${esc(formatValue(line.series!))}</text>\n`;
    });
    ly += 24;
  }
  svg += cross(5, ly - 4, 4, 'legend-nonconverged', NONCONV, 'not converged');
  svg += `<text x="16" y="${ly}">not converged</text>\n</g>\n</svg>\n`;
  return svg;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(Number(v.toPrecision(12)));
    }
  return out;
}

/** A named plot. */
export interface NamedPlot {
  name: string;
  svg: string;
}

/**
 * The standard set for a sweep: for each metric, a heatmap of the first two parameters (when there are
 * two or more) and a line plot against each parameter (split by the next one when it has few values).
 */
export function sweepPlots(
  rows: readonly SweepPlotRow[],
  parameters: readonly string[],
  metrics: readonly Metric[] = DEFAULT_METRICS,
): NamedPlot[] {
  const slug = (s: string) => s.replace(/[^\w.-]+/g, '_');
  const plots: NamedPlot[] = [];
  const numericParams = parameters.filter((p) => rows.some((r) => r.params[p] !== undefined));
  for (const metric of metrics) {
    if (numericParams.length >= 2) {
      const [x, y] = numericParams as [string, string];
      plots.push({
        name: `heatmap-${slug(metric.key)}-${slug(x)}-${slug(y)}`,
        svg: sweepHeatmap(rows, { x, y, metric }),
      });
    }
    numericParams.forEach((x, i) => {
      const other = numericParams[(i + 1) % numericParams.length];
      const few = other !== undefined && other !== x && new Set(rows.map((r) => r.params[other])).size <= 10;
      plots.push({
        name: `line-${slug(metric.key)}-${slug(x)}`,
        svg: sweepLinePlot(rows, { x, metric, series: few ? other : undefined }),
      });
    });
  }
  return plots;
}
