/**
 * The report of one run: `analyseRun` derives everything drawable from a run (span forest, folded stacks,
 * speedscope profile, timeline series); `runPage` renders one self-contained HTML page from it.
 */
import type { MigrationResult } from '../models/result.ts';
import { SPAN } from '../trace/names.ts';
import { flamegraph } from './flamegraph.ts';
import { type FoldedStack, foldedTotal, foldStacks } from './folded.ts';
import { esc, fmtBytes, fmtInt, fmtMs, fmtWeight } from './format.ts';
import { htmlPage, kvTable, section } from './page.ts';
import type { RunData } from './read.ts';
import { type SpanNode, spanForest } from './span-tree.ts';
import { type SpeedscopeFile, toSpeedscope } from './speedscope.ts';
import { type TimelineSeries, timeline, timelineSeries } from './timeline.ts';

/** What the reports draw from one run. */
export interface RunAnalysis {
  run: RunData;
  forest: SpanNode[];
  /** Self time in µs per stack. */
  foldedTime: FoldedStack[];
  /** Self bytes per stack. */
  foldedBytes: FoldedStack[];
  speedscope: SpeedscopeFile;
  series: TimelineSeries;
}

/** Analyse a run (pure; a run without a trace gets empty flame graphs). */
export function analyseRun(run: RunData): RunAnalysis {
  const forest = spanForest(run.trace?.spans ?? []);
  return {
    run,
    forest,
    foldedTime: foldStacks(forest, { weight: 'time' }),
    foldedBytes: foldStacks(forest, { weight: 'bytes' }),
    speedscope: toSpeedscope(forest, { name: run.label }),
    series: timelineSeries(run),
  };
}

/** Options of `runPage`. */
export interface RunPageOptions {
  /** Page title; default "migscope report: <label>". */
  title?: string;
  /** Side files to link from the page (name → relative path), e.g. the .folded and speedscope files. */
  files?: Record<string, string>;
  width?: number;
}

/** Defaults of `runPage`. */
export const RUN_PAGE_DEFAULTS: Required<Omit<RunPageOptions, 'title'>> = { files: {}, width: 1200 };

/** The summary rows of a result (label, HTML value). */
export function resultRows(r: MigrationResult): [string, string | null][] {
  const b = r.downtimeBreakdown;
  const parts = b
    ? [
        ['final pass', b.finalPassMs],
        ['drain', b.drainMs],
        ['load', b.loadMs],
        ['management', b.managementMs],
      ]
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => `${k} ${fmtMs(v as number)}`)
        .join(', ')
    : '';
  return [
    ['outcome', `<b class="${r.outcome === 'completed' ? 'good' : 'bad'}">${esc(r.outcome)}</b>`],
    ['converged', r.converged ? 'yes' : 'no'],
    ['message', r.message ? esc(r.message) : null],
    ['total time', fmtMs(r.totalTimeMs)],
    ['downtime', `${fmtMs(r.downtimeMs)}${parts ? ` <span class="note">(${esc(parts)})</span>` : ''}`],
    ['setup time', fmtMs(r.setupTimeMs)],
    ['bytes on the wire', `${fmtBytes(r.bytes.total)} <span class="note">(${fmtInt(r.bytes.total)})</span>`],
    [
      'by section',
      `RAM ${fmtBytes(r.bytes.ram)}, block ${fmtBytes(r.bytes.block)}, device ${r.bytes.device === null ? 'n/a' : fmtBytes(r.bytes.device)}`,
    ],
    ['pages sent', `${fmtInt(r.pages.normal)} full, ${fmtInt(r.pages.uniform)} uniform`],
    ['iterations', fmtInt(r.iterations.length)],
  ];
}

/** The scenario rows worth seeing next to the result. */
export function scenarioRows(r: MigrationResult): [string, string | null][] {
  const s = r.scenario;
  if (!s) return [];
  const w = s.workload;
  return [
    ['scenario', esc(s.name)],
    ['model', esc(r.model)],
    ['source', esc(r.source)],
    ['seed', String(s.seed)],
    ['guest RAM', `${fmtInt(s.vm?.memoryMiB)} MiB, ${s.vm?.vcpus ?? '?'} vCPU`],
    ['workload', w ? esc(`${w.kind}, ${w.wssMiB} MiB working set, ${w.dirtyRateMiBps} MiB/s dirtied`) : null],
    [
      'migration',
      s.migration
        ? esc(
            `max-bandwidth ${s.migration.maxBandwidthMiBps || 'unlimited'} MiB/s, downtime-limit ${s.migration.downtimeLimitMs} ms` +
              (s.migration.capabilities.length ? `, ${s.migration.capabilities.join(', ')}` : ''),
          )
        : null,
    ],
    ['network', s.network ? esc(`${s.network.bandwidthMbps} Mbit/s, RTT ${s.network.rttMs} ms`) : null],
    ['libvirt', s.libvirt ? (s.libvirt.enabled ? 'yes' : 'no') : null],
  ];
}

/** Trace facts: span count, roots, granularity. */
export function traceRows(a: RunAnalysis): [string, string | null][] {
  const spans = a.run.trace?.spans ?? [];
  if (spans.length === 0) return [['trace', 'none (no trace.otlp.jsonl, or granularity none)']];
  const has = (n: string) => spans.some((s) => s.name === n);
  const gran = has(SPAN.window)
    ? 'tick (100 ms windows)'
    : has(SPAN.iteration)
      ? 'iteration'
      : has(SPAN.migration)
        ? 'stage'
        : 'unknown';
  return [
    ['spans', fmtInt(spans.length)],
    ['root spans', esc(a.forest.map((r) => r.span.name).join(', '))],
    ['granularity', gran],
    ['traced time', fmtWeight(foldedTotal(a.foldedTime), 'time')],
    ['traced bytes', fmtBytes(foldedTotal(a.foldedBytes))],
  ];
}

/** The frames with the most self weight, summed over every stack they end: [frame, value, share]. */
export function topFrames(stacks: readonly FoldedStack[], n = 12): [string, number, number][] {
  const sums = new Map<string, number>();
  for (const s of stacks) {
    const leaf = s.stack[s.stack.length - 1]!;
    sums.set(leaf, (sums.get(leaf) ?? 0) + s.value);
  }
  const total = foldedTotal(stacks);
  return [...sums.entries()]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, n)
    .map(([k, v]) => [k, v, total > 0 ? v / total : 0]);
}

function topTable(stacks: readonly FoldedStack[], weight: 'time' | 'bytes'): string {
  const rows = topFrames(stacks)
    .map(
      ([k, v, share]) =>
        `<tr class="top-row"><td class="k"><code>${esc(k)}</code></td><td>${fmtWeight(v, weight)}</td><td>${(100 * share).toFixed(1)}%</td></tr>`,
    )
    .join('');
  return `<table class="top"><thead><tr><th class="k">span (self ${weight === 'time' ? 'time' : 'bytes'}, all stacks)</th><th>${weight}</th><th>share</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function flameSections(a: RunAnalysis, width: number): string {
  if (a.foldedTime.length === 0)
    return section('flamegraphs', 'Flame graphs', '<p class="note">No spans: the run has no trace.</p>');
  const t = flamegraph(a.foldedTime, {
    title: `Where the time went: ${a.run.label}`,
    weight: 'time',
    width,
    id: 'flame-time',
  });
  const b =
    a.foldedBytes.length > 0
      ? flamegraph(a.foldedBytes, {
          title: `Where the bytes went: ${a.run.label}`,
          weight: 'bytes',
          width,
          id: 'flame-bytes',
        })
      : '<p class="note">No span carries migscope.bytes.</p>';
  return (
    section(
      'flame-time-section',
      'Flame graph: time',
      t + topTable(a.foldedTime, 'time'),
      'Each frame is a span; its width is the time spent in it (self time plus its children). Children that run past their parent are clipped; a 100 ms window holds the iteration that ran inside it, so the window’s own time is the rate limiter holding the migration until the next tick. Hover a frame for its figures; the table lists the spans with the most time of their own.',
    ) +
    section(
      'flame-bytes-section',
      'Flame graph: bytes',
      a.foldedBytes.length > 0 ? b + topTable(a.foldedBytes, 'bytes') : b,
      'Widths are wire bytes produced inside each span (<code>migscope.bytes</code>), each byte counted once.',
    )
  );
}

/** One self-contained HTML page for a run: summary, timeline, flame graphs, links to the side files. */
export function runPage(a: RunAnalysis, options: RunPageOptions = {}): string {
  const o = { ...RUN_PAGE_DEFAULTS, ...options };
  const r = a.run.result;
  const title = options.title ?? `migscope report: ${a.run.label}`;
  const subtitle = r
    ? `${r.source === 'sim' ? 'simulated' : 'real'} run, ${r.model}, ${r.outcome}${a.run.dir ? `, from ${a.run.dir}` : ''}`
    : `trace only${a.run.dir ? `, from ${a.run.dir}` : ''}`;
  const summary =
    '<div class="grid">' +
    (r ? kvTable('summary result', resultRows(r)) : '') +
    (r ? kvTable('summary scenario', scenarioRows(r)) : '') +
    kvTable('summary trace', traceRows(a)) +
    '</div>';
  const tl = timeline([a.series], { title: `Timeline: ${a.run.label}`, width: o.width });
  const note =
    a.series.windows.length > 0
      ? 'Orange cells are the 100 ms rate-limit windows (darker: closer to the limit); the throughput line is bytes per window.'
      : 'No 100 ms window spans (the trace was recorded below tick granularity, or there is none): throughput is estimated from the iterations, their bytes paced at the link rate and summed per 100 ms.';
  const files = Object.entries(o.files);
  const body =
    section('summary', 'Summary', summary) +
    section('timeline-section', 'Timeline', tl, esc(note)) +
    flameSections(a, o.width) +
    (files.length > 0
      ? section(
          'files',
          'Files',
          `<ul class="files">${files.map(([k, v]) => `<li><a href="${esc(v)}">${esc(v)}</a>: ${esc(k)}</li>`).join('')}</ul>`,
          'Folded stacks load in flamegraph.pl and speedscope; the .speedscope.json file opens at speedscope.app (time and byte profiles).',
        )
      : '') +
    (r?.scenario
      ? `<details><summary>Resolved scenario</summary><pre>${esc(JSON.stringify(r.scenario, null, 2))}</pre></details>`
      : '');
  return htmlPage(title, subtitle, body);
}
