/**
 * Two runs of the same scenario (typically a simulation and a real migration) on one page: the error
 * summary, per-iteration figures side by side, both timelines overlaid and differential flame graphs.
 * `compareMetrics` and `iterationPairs` are the pure tables; `comparePage` renders the HTML.
 */
import type { IterationRecord, MigrationResult } from '../models/result.ts';
import { diffFlamegraph } from './flamegraph.ts';
import type { FoldedStack, Weight } from './folded.ts';
import { esc, fmtBytes, fmtInt, fmtMs, fmtPct, fmtWeight } from './format.ts';
import { htmlPage, section } from './page.ts';
import type { RunAnalysis } from './run-page.ts';
import { timeline } from './timeline.ts';

/** How a metric is shown. */
export type MetricKind = 'ms' | 'bytes' | 'count';

/** One row of the error summary. `error` is the other run minus the reference run. */
export interface MetricRow {
  metric: string;
  kind: MetricKind;
  a: number | null;
  b: number | null;
  error: number | null;
  /** error / reference × 100; null when the reference is 0 or missing. */
  errorPct: number | null;
}

/** Which run the errors are measured against: the real one if exactly one is real, else A. */
export function referenceOf(a: MigrationResult | null, b: MigrationResult | null): 'a' | 'b' {
  return a?.source !== 'real' && b?.source === 'real' ? 'b' : 'a';
}

/** The error summary: total time, downtime, setup, bytes, iterations, pages. */
export function compareMetrics(a: MigrationResult | null, b: MigrationResult | null): MetricRow[] {
  const ref = referenceOf(a, b);
  const pick: [string, MetricKind, (r: MigrationResult) => number | null][] = [
    ['total time', 'ms', (r) => r.totalTimeMs],
    ['downtime', 'ms', (r) => r.downtimeMs],
    ['setup time', 'ms', (r) => r.setupTimeMs],
    ['bytes on the wire', 'bytes', (r) => r.bytes.total],
    ['RAM bytes', 'bytes', (r) => r.bytes.ram],
    ['iterations', 'count', (r) => r.iterations.length],
    ['full pages sent', 'count', (r) => r.pages.normal],
    ['uniform pages sent', 'count', (r) => r.pages.uniform],
  ];
  return pick.map(([metric, kind, f]) => {
    const va = a ? f(a) : null;
    const vb = b ? f(b) : null;
    const [refV, other] = ref === 'a' ? [va, vb] : [vb, va];
    const error = refV !== null && other !== null ? other - refV : null;
    const errorPct = error !== null && refV ? (100 * error) / refV : null;
    return { metric, kind, a: va, b: vb, error, errorPct };
  });
}

/** Iterations of A and B paired by position (the shorter list padded with null). */
export function iterationPairs(
  a: readonly IterationRecord[],
  b: readonly IterationRecord[],
): [IterationRecord | null, IterationRecord | null][] {
  const n = Math.max(a.length, b.length);
  const out: [IterationRecord | null, IterationRecord | null][] = [];
  for (let i = 0; i < n; i++) out.push([a[i] ?? null, b[i] ?? null]);
  return out;
}

/** The spans whose own (self) weight differs most between A and B (by more than 1), summed over stacks: [span, A, B]. */
export function topDiffFrames(
  a: readonly FoldedStack[],
  b: readonly FoldedStack[],
  n = 10,
): [string, number, number][] {
  const m = new Map<string, [number, number]>();
  const add = (stacks: readonly FoldedStack[], i: 0 | 1) => {
    for (const s of stacks) {
      const leaf = s.stack[s.stack.length - 1]!;
      const e = m.get(leaf) ?? [0, 0];
      e[i] += s.value;
      m.set(leaf, e);
    }
  };
  add(a, 0);
  add(b, 1);
  return [...m.entries()]
    .filter(([, [x, y]]) => Math.abs(x - y) > 1) // a 1 µs or 1 byte difference is folding's rounding
    .sort((p, q) => Math.abs(q[1][1] - q[1][0]) - Math.abs(p[1][1] - p[1][0]) || (p[0] < q[0] ? -1 : 1))
    .slice(0, n)
    .map(([k, [x, y]]) => [k, x, y]);
}

function diffTable(a: readonly FoldedStack[], b: readonly FoldedStack[], weight: Weight): string {
  const rows = topDiffFrames(a, b);
  if (rows.length === 0)
    return `<p class="note">No span's own ${weight === 'time' ? 'time' : 'bytes'} differs.</p>`;
  const f = (v: number) => fmtWeight(v, weight);
  return (
    `<table class="top diff-top"><thead><tr><th class="k">span (self ${weight}, all stacks)</th><th>A</th><th>B</th><th>B − A</th><th>%</th></tr></thead><tbody>` +
    rows
      .map(
        ([k, x, y]) =>
          `<tr class="diff-row"><td class="k"><code>${esc(k)}</code></td><td>${f(x)}</td><td>${f(y)}</td>` +
          `<td>${y >= x ? '+' : '-'}${f(Math.abs(y - x))}</td><td>${x > 0 ? fmtPct((100 * (y - x)) / x) : 'new'}</td></tr>`,
      )
      .join('') +
    '</tbody></table>'
  );
}

/** Options of `comparePage`. */
export interface ComparePageOptions {
  title?: string;
  width?: number;
  /** Side files to link (description → relative path). */
  files?: Record<string, string>;
}

/** Defaults of `comparePage`. */
export const COMPARE_PAGE_DEFAULTS: Required<Omit<ComparePageOptions, 'title'>> = { width: 1200, files: {} };

function fmtKind(v: number | null, kind: MetricKind): string {
  if (v === null) return 'n/a';
  return kind === 'ms' ? fmtMs(v) : kind === 'bytes' ? fmtBytes(v) : fmtInt(v);
}

function signed(v: number | null, kind: MetricKind): string {
  if (v === null) return 'n/a';
  return `${v > 0 ? '+' : v < 0 ? '-' : '±'}${fmtKind(Math.abs(v), kind)}`;
}

function errClass(p: number | null): string {
  if (p === null) return '';
  return Math.abs(p) <= 10 ? 'good' : 'bad';
}

function runName(a: RunAnalysis, which: 'A' | 'B'): string {
  const r = a.run.result;
  return `${which}: ${a.run.label}${r ? ` (${r.source}, ${r.model})` : ''}`;
}

function iterationTable(a: RunAnalysis, b: RunAnalysis): string {
  const pairs = iterationPairs(a.run.result?.iterations ?? [], b.run.result?.iterations ?? []);
  if (pairs.length === 0) return '<p class="note">Neither run has iterations in result.json.</p>';
  const cells = (it: IterationRecord | null) =>
    it
      ? `<td>${fmtMs(it.startMs)}</td><td>${fmtMs(it.endMs - it.startMs)}</td><td>${fmtBytes(it.bytes)}</td><td>${fmtInt(it.remainingPages)}</td>`
      : '<td>—</td><td>—</td><td>—</td><td>—</td>';
  const rows = pairs
    .map(([x, y], i) => {
      const d = x && y && x.bytes !== null && y.bytes !== null ? y.bytes - x.bytes : null;
      const p = d !== null && x?.bytes ? (100 * d) / x.bytes : null;
      return `<tr class="iteration-row"><td>${x?.index ?? y?.index ?? i + 1}</td>${cells(x)}${cells(y)}<td>${signed(d, 'bytes')}</td><td>${fmtPct(p)}</td></tr>`;
    })
    .join('');
  return (
    '<div class="scroll"><table class="iterations"><thead>' +
    `<tr class="group"><th></th><th colspan="4">${esc(runName(a, 'A'))}</th><th colspan="4">${esc(runName(b, 'B'))}</th><th colspan="2">bytes B − A</th></tr>` +
    '<tr><th>#</th><th>start</th><th>duration</th><th>bytes</th><th>remaining pages</th><th>start</th><th>duration</th><th>bytes</th><th>remaining pages</th><th>Δ</th><th>Δ %</th></tr>' +
    `</thead><tbody>${rows}</tbody></table></div>`
  );
}

/** One HTML page comparing runs A and B. */
export function comparePage(a: RunAnalysis, b: RunAnalysis, options: ComparePageOptions = {}): string {
  const o = { ...COMPARE_PAGE_DEFAULTS, ...options };
  const ra = a.run.result;
  const rb = b.run.result;
  const ref = referenceOf(ra, rb);
  const refName = ref === 'a' ? 'A' : 'B';
  const otherName = ref === 'a' ? 'B' : 'A';
  const title = options.title ?? `migscope comparison: ${a.run.label} vs ${b.run.label}`;
  const warn =
    ra?.scenario?.name && rb?.scenario?.name && ra.scenario.name !== rb.scenario.name
      ? `<p class="note bad">The runs come from different scenarios (${esc(ra.scenario.name)} and ${esc(rb.scenario.name)}).</p>`
      : '';
  const metrics = compareMetrics(ra, rb);
  const summary =
    warn +
    '<table class="errors"><thead><tr>' +
    `<th class="k">metric</th><th>${esc(runName(a, 'A'))}</th><th>${esc(runName(b, 'B'))}</th><th>error (${otherName} − ${refName})</th><th>error %</th>` +
    '</tr></thead><tbody>' +
    metrics
      .map(
        (m) =>
          `<tr class="metric-row"><td class="k">${esc(m.metric)}</td><td>${fmtKind(m.a, m.kind)}</td><td>${fmtKind(m.b, m.kind)}</td>` +
          `<td>${signed(m.error, m.kind)}</td><td class="${errClass(m.errorPct)}">${fmtPct(m.errorPct)}</td></tr>`,
      )
      .join('') +
    '</tbody></table>';
  const labels: [string, string] = [`A ${a.run.label}`, `B ${b.run.label}`];
  const tl = timeline([a.series, b.series], {
    title: 'Timelines overlaid (A solid, B dashed)',
    width: o.width,
  });
  const hasSpans = a.foldedTime.length > 0 || b.foldedTime.length > 0;
  const flames = hasSpans
    ? diffFlamegraph(a.foldedTime, b.foldedTime, {
        title: 'Differential flame graph: time',
        weight: 'time',
        width: o.width,
        labels,
        id: 'diff-time',
      }) +
      diffTable(a.foldedTime, b.foldedTime, 'time') +
      diffFlamegraph(a.foldedBytes, b.foldedBytes, {
        title: 'Differential flame graph: bytes',
        weight: 'bytes',
        width: o.width,
        labels,
        id: 'diff-bytes',
      }) +
      diffTable(a.foldedBytes, b.foldedBytes, 'bytes')
    : '<p class="note">Neither run has a trace.</p>';
  const files = Object.entries(o.files);
  const body =
    section(
      'errors-section',
      'Error summary',
      summary,
      esc(
        `Errors are ${otherName} minus ${refName}, in percent of ${refName}${ref === 'b' ? ' (the real run)' : ''}; green within 10%.`,
      ),
    ) +
    section('timeline-section', 'Timelines', tl) +
    section(
      'diff-section',
      'Differential flame graphs',
      flames,
      'A frame is as wide as the larger of its two figures, so a span found in only one run stays visible. Its colour is the change in its own (self) figure, so colour marks where a difference arises: red, B spent more there than A; blue, less; grey, the same. Hover a frame for both runs’ inclusive figures.',
    ) +
    section('iterations-section', 'Iterations side by side', iterationTable(a, b)) +
    (files.length > 0
      ? section(
          'files',
          'Files',
          `<ul class="files">${files.map(([k, v]) => `<li><a href="${esc(v)}">${esc(v)}</a>: ${esc(k)}</li>`).join('')}</ul>`,
        )
      : '');
  return htmlPage(title, `${runName(a, 'A')}  vs  ${runName(b, 'B')}`, body);
}
