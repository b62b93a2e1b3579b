/**
 * The timeline of one run, or of two overlaid: libvirt phases, setup and downtime, iterations as bars,
 * the 100 ms rate-limit windows (when the trace was recorded at tick granularity), and below them the
 * remaining dirty pages and the throughput as lines. `timelineSeries` extracts the data (pure, testable);
 * `timeline` draws it as an SVG string. Times are ms since the trace start, the clock result.json's
 * iterations use.
 */
import { ATTR, SPAN } from '../trace/names.ts';
import { esc, fmtBytes, fmtInt, fmtMs, fmtRate } from './format.ts';
import type { RunData, SpanRecord } from './read.ts';

/** A bar on a lane. */
export interface TimelineBar {
  name: string;
  startMs: number;
  endMs: number;
  /** Hover text. */
  detail: string;
}

/** A window of the rate limiter: bytes produced against the limit. */
export interface TimelineWindow {
  startMs: number;
  endMs: number;
  bytes: number;
  limit: number | null;
}

/** Everything the timeline draws for one run. */
export interface TimelineSeries {
  label: string;
  libvirt: TimelineBar[];
  phases: TimelineBar[];
  iterations: TimelineBar[];
  windows: TimelineWindow[];
  /** (ms, pages) points of the remaining dirty pages. */
  remaining: [number, number][];
  /** Steps of the throughput: [startMs, endMs, bytes/s]. */
  throughput: [number, number, number][];
  /** Where the throughput comes from: the 100 ms windows or the iterations. */
  throughputFrom: 'windows' | 'iterations' | 'none';
  /** The scenario's max-bandwidth in bytes/s (null: unlimited or unknown). */
  maxBandwidth: number | null;
  extentMs: [number, number];
}

/** Options of `timeline`. */
export interface TimelineOptions {
  title?: string;
  width?: number;
  laneHeight?: number;
  chartHeight?: number;
  id?: string;
}

/** Defaults of `timeline`. */
export const TIMELINE_DEFAULTS: Required<TimelineOptions> = {
  title: 'Timeline',
  width: 1200,
  laneHeight: 16,
  chartHeight: 220,
  id: 'timeline',
};

/** libvirt RPC calls drawn on the libvirt lane (client side, protocol v2 and v3). */
export const LIBVIRT_PHASES: readonly string[] = [
  SPAN.begin3,
  SPAN.prepare2,
  SPAN.prepare3,
  SPAN.perform,
  SPAN.perform3,
  SPAN.finish2,
  SPAN.finish3,
  SPAN.confirm3,
];

const ms = (ns: number) => ns / 1e6;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function bar(s: SpanRecord, name: string, extra = ''): TimelineBar {
  const a = ms(s.startNs);
  const b = ms(s.endNs);
  return {
    name,
    startMs: a,
    endMs: b,
    detail: `${name}: ${fmtMs(a)} to ${fmtMs(b)} (${fmtMs(b - a)})${extra}`,
  };
}

/** Extract the series of a run (see `TimelineSeries`). Missing data leaves a series empty. */
export function timelineSeries(run: RunData): TimelineSeries {
  const spans = run.trace?.spans ?? [];
  const result = run.result;
  const libvirt: TimelineBar[] = [];
  const phases: TimelineBar[] = [];
  const windows: TimelineWindow[] = [];
  let migration: SpanRecord | null = null;
  for (const s of spans) {
    if (LIBVIRT_PHASES.includes(s.name)) libvirt.push(bar(s, s.name.replace(/^libvirt\./, '')));
    else if (s.name === SPAN.setup) phases.push(bar(s, 'setup'));
    else if (s.name === SPAN.downtime) phases.push(bar(s, 'downtime'));
    else if (s.name === SPAN.window) {
      windows.push({
        startMs: ms(s.startNs),
        endMs: ms(s.endNs),
        bytes: num(s.attributes[ATTR.bytes]) ?? 0,
        limit: num(s.attributes[ATTR.xferLimit]),
      });
    } else if (s.name === SPAN.migration && (!migration || s.startNs < migration.startNs)) migration = s;
  }
  libvirt.sort((a, b) => a.startMs - b.startMs);
  windows.sort((a, b) => a.startMs - b.startMs);

  const its = (result?.iterations ?? []).slice().sort((a, b) => a.startMs - b.startMs);
  const iterations: TimelineBar[] = its.map((it) => ({
    name: `iteration ${it.index}`,
    startMs: it.startMs,
    endMs: it.endMs,
    detail:
      `iteration ${it.index}: ${fmtMs(it.startMs)} to ${fmtMs(it.endMs)} (${fmtMs(it.endMs - it.startMs)}), ` +
      `${fmtBytes(it.bytes)}, ${fmtInt(it.pagesSent)} pages sent, ${fmtInt(it.dirtyPagesAtSync)} dirty at sync, ` +
      `${fmtInt(it.remainingPages)} remaining`,
  }));
  if (its.length === 0) {
    // No result.json: iterations from the iteration spans.
    for (const s of spans)
      if (s.name === SPAN.iteration)
        iterations.push(bar(s, 'iteration', `, ${fmtBytes(num(s.attributes[ATTR.bytes]))}`));
    iterations.sort((a, b) => a.startMs - b.startMs);
  }

  // Without spans, place setup and downtime from result.json (0.12.3: downtime starts with the last pass).
  if (result && !phases.some((p) => p.name === 'setup') && result.setupTimeMs !== null && its[0]) {
    const b = its[0].startMs;
    phases.push({
      name: 'setup',
      startMs: b - result.setupTimeMs,
      endMs: b,
      detail: `setup: ${fmtMs(result.setupTimeMs)}`,
    });
  }
  const last = its[its.length - 1];
  if (result && !phases.some((p) => p.name === 'downtime') && result.downtimeMs !== null && last) {
    phases.push({
      name: 'downtime',
      startMs: last.startMs,
      endMs: last.startMs + result.downtimeMs,
      detail: `downtime: ${fmtMs(result.downtimeMs)} (placed from result.json)`,
    });
  }
  phases.sort((a, b) => a.startMs - b.startMs);

  const remaining: [number, number][] = [];
  let prev: number | null = null;
  for (const it of its) {
    const dirty = num(it.dirtyPagesAtSync);
    const left = num(it.remainingPages);
    if (dirty !== null) remaining.push([it.startMs, prev === null ? dirty : prev + dirty]);
    if (left !== null) remaining.push([it.endMs, left]);
    prev = left;
  }

  const throughput: [number, number, number][] = [];
  let throughputFrom: TimelineSeries['throughputFrom'] = 'none';
  if (windows.length > 0) {
    throughputFrom = 'windows';
    for (const w of windows)
      if (w.endMs > w.startMs)
        throughput.push([w.startMs, w.endMs, (w.bytes * 1000) / (w.endMs - w.startMs)]);
  } else if (its.length > 0) {
    throughputFrom = 'iterations';
    const endAll = migration ? ms(migration.endNs) : (last?.endMs ?? 0);
    const linkMbps = result?.scenario?.network?.bandwidthMbps;
    throughput.push(...pacedThroughput(its, endAll, linkMbps ? (linkMbps * 1e6) / 8 : null));
  }

  let lo = Infinity;
  let hi = -Infinity;
  const see = (a: number, b: number) => {
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  };
  for (const s of spans) see(ms(s.startNs), ms(s.endNs));
  for (const b of [...iterations, ...phases]) see(b.startMs, b.endMs);
  for (const [a, b] of throughput) see(a, b);
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = result?.totalTimeMs ?? 1;
  }
  if (hi <= lo) hi = lo + 1;
  return {
    label: run.label,
    libvirt,
    phases,
    iterations,
    windows,
    remaining,
    throughput,
    throughputFrom,
    maxBandwidth: result?.scenario?.migration?.maxBandwidthMiBps
      ? result.scenario.migration.maxBandwidthMiBps * 1048576
      : null,
    extentMs: [lo, hi],
  };
}

/**
 * Throughput from iterations alone: an iteration's bytes are produced evenly over its span, leave through
 * a queue at no more than the link rate (bytes/s, when known), and are summed per bin of at least 100 ms.
 * Without the pacing, a pass that fills the send buffer in 4 ms would read as a 1 GiB/s burst.
 */
export function pacedThroughput(
  its: readonly { startMs: number; endMs: number; bytes: number | null }[],
  endMs: number,
  linkBytesPerS: number | null,
): [number, number, number][] {
  if (its.length === 0) return [];
  const t0 = its[0]!.startMs;
  const t1 = Math.max(endMs, its[its.length - 1]!.endMs);
  const bin = Math.max(100, (t1 - t0) / 400);
  const n = Math.max(1, Math.ceil((t1 - t0) / bin));
  const produced = new Array<number>(n).fill(0);
  for (const it of its) {
    const b = it.bytes ?? 0;
    if (b <= 0) continue;
    const a = it.startMs;
    const e = Math.max(it.endMs, a);
    if (e === a) {
      produced[Math.min(n - 1, Math.floor((a - t0) / bin))]! += b;
      continue;
    }
    for (let k = Math.max(0, Math.floor((a - t0) / bin)); k < n; k++) {
      const lo = t0 + k * bin;
      const hi = lo + bin;
      if (lo >= e) break;
      produced[k]! += (b * (Math.min(hi, e) - Math.max(lo, a))) / (e - a);
    }
  }
  const out: [number, number, number][] = [];
  const cap = linkBytesPerS === null ? Infinity : (linkBytesPerS * bin) / 1000;
  let queue = 0;
  for (let k = 0; k < n || queue > 0; k++) {
    queue += produced[k] ?? 0;
    const sent = Math.min(queue, cap);
    queue -= sent;
    out.push([t0 + k * bin, t0 + (k + 1) * bin, (sent * 1000) / bin]);
    if (k > n + 100000) break;
  }
  return out;
}

/** Round, readable tick values covering [lo, hi] (about `n` of them). */
export function niceTicks(lo: number, hi: number, n = 8): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const step = (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const COLOURS = {
  libvirt: '#8e7cc3',
  setup: '#6aa84f',
  downtime: '#cc0000',
  iteration: ['#3d85c6', '#6fa8dc'],
  window: '#f6b26b',
  remaining: '#1f5fa8',
  throughput: '#e06c00',
};

const DASH = ['', '6 4'];

const r2 = (v: number) => Math.round(v * 100) / 100;

/** Draw one or two runs' series as an SVG string (two runs: B dashed over A). */
export function timeline(series: readonly TimelineSeries[], options: TimelineOptions = {}): string {
  const o = { ...TIMELINE_DEFAULTS, ...options };
  const left = 150;
  const right = 78;
  const top = 46;
  const lh = o.laneHeight;
  const plotW = o.width - left - right;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    lo = Math.min(lo, s.extentMs[0]);
    hi = Math.max(hi, s.extentMs[1]);
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const x = (t: number) => left + ((t - lo) / (hi - lo)) * plotW;
  const parts: string[] = [];
  const two = series.length > 1;
  let y = top;
  const lane = (label: string, draw: (y: number) => void) => {
    parts.push(
      `<text class="lane-label" x="${left - 8}" y="${y + lh * 0.75}" text-anchor="end">${esc(label)}</text>`,
      `<rect x="${left}" y="${y}" width="${plotW}" height="${lh}" fill="#f4f4f4"/>`,
    );
    draw(y);
    y += lh + 5;
  };
  const bars = (
    bs: TimelineBar[],
    fill: (b: TimelineBar, i: number) => string,
    cls: string,
    withText: boolean,
  ) => {
    return (yy: number) => {
      bs.forEach((b, i) => {
        const x0 = x(b.startMs);
        const w = Math.max(0.6, x(b.endMs) - x0);
        parts.push(
          `<g class="${cls}"><title>${esc(b.detail)}</title><rect x="${r2(x0)}" y="${yy}" width="${r2(w)}" height="${lh}" fill="${fill(b, i)}"/>` +
            (withText && w > b.name.length * 6.5 + 6
              ? `<text x="${r2(x0 + 3)}" y="${yy + lh * 0.75}" class="bar-label">${esc(b.name)}</text>`
              : '') +
            '</g>',
        );
      });
    };
  };
  series.forEach((s, k) => {
    const p = two ? `${k === 0 ? 'A' : 'B'}: ` : '';
    if (s.libvirt.length > 0)
      lane(
        `${p}libvirt`,
        bars(s.libvirt, () => COLOURS.libvirt, 'phase libvirt', true),
      );
    if (s.phases.length > 0)
      lane(
        `${p}setup / downtime`,
        bars(s.phases, (b) => (b.name === 'downtime' ? COLOURS.downtime : COLOURS.setup), 'phase qemu', true),
      );
    if (s.iterations.length > 0)
      lane(
        `${p}iterations (${s.iterations.length})`,
        bars(s.iterations, (_, i) => COLOURS.iteration[i % 2]!, 'iteration', false),
      );
    if (s.windows.length > 0)
      lane(`${p}100 ms windows (${s.windows.length})`, (yy) => {
        const titled = s.windows.length <= 3000;
        s.windows.forEach((w, i) => {
          const x0 = x(w.startMs);
          const wd = Math.max(0.5, x(w.endMs) - x0);
          const fill = w.limit ? Math.min(1, w.bytes / w.limit) : 1;
          const rect = `<rect x="${r2(x0)}" y="${yy + (i % 2) * 2}" width="${r2(wd)}" height="${lh - 2}" fill="${COLOURS.window}" fill-opacity="${(0.35 + 0.65 * fill).toFixed(2)}"${wd >= 3 ? ' stroke="#fff" stroke-width="0.3"' : ''}/>`;
          parts.push(
            titled
              ? `<g class="window"><title>${esc(`window ${i + 1}: ${fmtMs(w.startMs)} to ${fmtMs(w.endMs)}, ${fmtBytes(w.bytes)}${w.limit ? ` of ${fmtBytes(w.limit)} allowed` : ''}`)}</title>${rect}</g>`
              : `<g class="window">${rect}</g>`,
          );
        });
      });
  });
  if (y === top) lane('(no phases or iterations)', () => {});

  // Lines: remaining dirty pages (left axis) and throughput (right axis).
  const cTop = y + 14;
  const cH = o.chartHeight;
  let maxPages = 0;
  let maxRate = 0;
  for (const s of series) {
    for (const [, v] of s.remaining) maxPages = Math.max(maxPages, v);
    for (const [, , v] of s.throughput) maxRate = Math.max(maxRate, v);
  }
  // 8% headroom above the highest point, so no line runs along the frame.
  const topPages = (maxPages || 1) * 1.08;
  const pageTicks = niceTicks(0, topPages, 5);
  const topRate = ((maxRate || 1048576) / 1048576) * 1.08;
  const rateTicks = niceTicks(0, topRate, 5);
  const yP = (v: number) => cTop + cH - (v / topPages) * cH;
  const yR = (v: number) => cTop + cH - (v / 1048576 / topRate) * cH;
  parts.push(`<rect x="${left}" y="${cTop}" width="${plotW}" height="${cH}" fill="#fff" stroke="#bbb"/>`);
  // Downtime and setup bands behind the lines.
  series.forEach((s) => {
    for (const ph of s.phases)
      parts.push(
        `<rect class="band ${ph.name}" x="${r2(x(ph.startMs))}" y="${cTop}" width="${r2(Math.max(0.6, x(ph.endMs) - x(ph.startMs)))}" height="${cH}" fill="${ph.name === 'downtime' ? COLOURS.downtime : COLOURS.setup}" fill-opacity="0.12"/>`,
      );
  });
  for (const t of pageTicks)
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${r2(yP(t))}" y2="${r2(yP(t))}" stroke="#eee"/>`,
      `<text class="axis" x="${left - 6}" y="${r2(yP(t) + 4)}" text-anchor="end" fill="${COLOURS.remaining}">${esc(fmtInt(t))}</text>`,
    );
  for (const t of rateTicks)
    if (t <= topRate)
      parts.push(
        `<text class="axis" x="${left + plotW + 6}" y="${r2(cTop + cH - (t / topRate) * cH + 4)}" fill="${COLOURS.throughput}">${esc(String(t))}</text>`,
      );
  parts.push(
    `<text class="axis-title" transform="translate(${left - 62},${cTop + cH / 2}) rotate(-90)" text-anchor="middle" fill="${COLOURS.remaining}">remaining dirty pages</text>`,
    `<text class="axis-title" transform="translate(${left + plotW + 52},${cTop + cH / 2}) rotate(90)" text-anchor="middle" fill="${COLOURS.throughput}">throughput (MiB/s)</text>`,
  );
  const limits = [...new Set(series.map((s) => s.maxBandwidth).filter((v): v is number => v !== null))];
  for (const v of limits)
    if (v <= topRate * 1048576)
      parts.push(
        `<line class="max-bandwidth" x1="${left}" x2="${left + plotW}" y1="${r2(yR(v))}" y2="${r2(yR(v))}" stroke="${COLOURS.throughput}" stroke-dasharray="2 3" stroke-opacity="0.8"/>`,
        `<text class="axis" x="${left + plotW - 4}" y="${r2(yR(v) - 4)}" text-anchor="end" fill="${COLOURS.throughput}">max-bandwidth ${esc(fmtRate(v))}</text>`,
      );
  series.forEach((s, k) => {
    if (s.throughput.length > 0) {
      let d = '';
      let lastEnd: number | null = null;
      for (const [a, b, v] of s.throughput) {
        const yy = r2(yR(v));
        d +=
          lastEnd !== null && Math.abs(a - lastEnd) < 1e-6
            ? `V${yy}H${r2(x(b))}`
            : `M${r2(x(a))} ${yy}H${r2(x(b))}`;
        lastEnd = b;
      }
      parts.push(
        `<path class="line throughput" d="${d}" fill="none" stroke="${COLOURS.throughput}" stroke-width="1.4" stroke-dasharray="${DASH[k] ?? ''}"><title>${esc(`${s.label}: throughput per ${s.throughputFrom === 'windows' ? '100 ms window' : 'iteration'} (max ${fmtRate(Math.max(...s.throughput.map((t) => t[2])))})`)}</title></path>`,
      );
    }
    if (s.remaining.length > 0) {
      const d = s.remaining.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${r2(x(t))} ${r2(yP(v))}`).join('');
      parts.push(
        `<path class="line remaining" d="${d}" fill="none" stroke="${COLOURS.remaining}" stroke-width="2" stroke-dasharray="${DASH[k] ?? ''}"><title>${esc(`${s.label}: remaining dirty pages`)}</title></path>`,
      );
    }
  });
  // Time axis.
  const axisY = cTop + cH;
  const ticks = niceTicks(lo, hi, 10);
  const unitS = hi - lo >= 2000;
  for (const t of ticks)
    parts.push(
      `<line x1="${r2(x(t))}" x2="${r2(x(t))}" y1="${axisY}" y2="${axisY + 5}" stroke="#333"/>`,
      `<text class="axis" x="${r2(x(t))}" y="${axisY + 17}" text-anchor="middle">${esc(unitS ? `${Number((t / 1000).toPrecision(6))} s` : `${t} ms`)}</text>`,
    );
  parts.push(
    `<text class="axis-title" x="${left + plotW / 2}" y="${axisY + 34}" text-anchor="middle">time since the trace start</text>`,
  );
  // Legend.
  const legend: string[] = [];
  let lx = left;
  const item = (swatch: string, text: string) => {
    legend.push(`${swatch.replace(/X0/g, String(lx))}<text x="${lx + 22}" y="33">${esc(text)}</text>`);
    lx += 30 + text.length * 6.2;
  };
  const lineSw = (c: string, dash = '') =>
    `<line x1="X0" x2="${lx + 18}" y1="29" y2="29" stroke="${c}" stroke-width="2" stroke-dasharray="${dash}"/>`;
  const boxSw = (c: string, op = 1) =>
    `<rect x="X0" y="23" width="18" height="11" fill="${c}" fill-opacity="${op}"/>`;
  item(lineSw(COLOURS.remaining), 'remaining dirty pages');
  item(lineSw(COLOURS.throughput), 'throughput');
  if (two) {
    item(lineSw('#444'), `A: ${series[0]!.label}`);
    item(lineSw('#444', DASH[1]), `B: ${series[1]!.label}`);
  }
  item(boxSw(COLOURS.setup), 'setup');
  item(boxSw(COLOURS.downtime), 'downtime');
  item(boxSw(COLOURS.iteration[0]!), 'iteration');
  if (series.some((s) => s.windows.length > 0)) item(boxSw(COLOURS.window, 0.8), '100 ms window');
  const height = axisY + 46;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(o.id)}" class="timeline" role="img" aria-label="${esc(o.title)}" width="${o.width}" height="${height}" viewBox="0 0 ${o.width} ${height}" font-family="sans-serif" font-size="11">` +
    '<style>.lane-label{font-size:11px;fill:#333}.bar-label{font-size:10px;fill:#fff}.axis{font-size:10px;fill:#444}.axis-title{font-size:11px;fill:#333}</style>' +
    `<text x="${left}" y="15" font-size="15" font-weight="bold">${esc(o.title)}</text>` +
    legend.join('') +
    parts.join('') +
    '</svg>'
  );
}
