/**
 * A validation as files: errors.csv (one row per scenario and metric), summary.csv (overall per subset),
 * a plain-text table for the terminal and a Markdown one for READMEs, and index.html linking the
 * per-scenario comparison pages. Pure: data in, text out.
 */
import { esc } from '../../reports/format.ts';
import { htmlPage, section } from '../../reports/page.ts';
import { toCsv } from '../../sim/sweep/csv.ts';
import { METRICS, type Metric, TARGET_P90 } from './errors.ts';
import type { SubsetValidation, Validation } from './validate.ts';

const NAMES: Record<Metric, string> = {
  totalTimeMs: 'total time',
  bytes: 'bytes',
  downtimeMs: 'downtime',
  iterations: 'iterations',
};

const r2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);

/** Columns of errors.csv. */
export const ERRORS_CSV_COLUMNS = [
  'scenario',
  'subset',
  'metric',
  'real_repeats',
  'real_median',
  'real_spread_p50',
  'real_spread_p90',
  'sim',
  'sim_ape_p50',
  'sim_ape_p90',
  'fluid',
  'fluid_ape_p50',
  'fluid_ape_p90',
  'sim_setup',
  'sim_setup_ape_p50',
  'sim_setup_ape_p90',
  'real_outcome',
  'sim_outcome',
  'fluid_outcome',
] as const;

/** errors.csv: per scenario and metric, the real median and spread, sim and fluid values and APEs (%). */
export function errorsCsv(v: Validation): string {
  const rows = v.scenarios.flatMap((s) =>
    METRICS.map((m) => ({
      scenario: s.name,
      subset: s.subset,
      metric: m,
      real_repeats: s.real.figures.length,
      real_median: r2(s.real.median[m]),
      real_spread_p50: r2(s.errors.spread[m].p50),
      real_spread_p90: r2(s.errors.spread[m].p90),
      sim: r2(s.sim.figures[m]),
      sim_ape_p50: r2(s.errors.sim[m].p50),
      sim_ape_p90: r2(s.errors.sim[m].p90),
      fluid: r2(s.fluid.figures[m]),
      fluid_ape_p50: r2(s.errors.fluid[m].p50),
      fluid_ape_p90: r2(s.errors.fluid[m].p90),
      sim_setup: r2(s.simSetup.figures[m]),
      sim_setup_ape_p50: r2(s.errors.simSetup[m].p50),
      sim_setup_ape_p90: r2(s.errors.simSetup[m].p90),
      real_outcome: s.real.outcomes.join('+'),
      sim_outcome: s.sim.outcome,
      fluid_outcome: s.fluid.outcome,
    })),
  );
  return toCsv(ERRORS_CSV_COLUMNS, rows);
}

/** Columns of summary.csv. */
export const SUMMARY_CSV_COLUMNS = [
  'subset',
  'metric',
  'scenarios',
  'pairs',
  'sim_p50',
  'sim_p90',
  'fluid_p50',
  'fluid_p90',
  'sim_setup_p50',
  'sim_setup_p90',
  'spread_p50',
  'spread_p90',
  'target_p90',
] as const;

/** summary.csv: pooled APEs (every scenario × repeat pair) per subset and metric. */
export function summaryCsv(v: Validation): string {
  const rows = (['test', 'calibration', 'all'] as const).flatMap((sub) => {
    const o = v.overall[sub];
    return METRICS.map((m) => ({
      subset: sub,
      metric: m,
      scenarios: o.scenarios,
      pairs: o.pairs,
      sim_p50: r2(o.sim[m].p50),
      sim_p90: r2(o.sim[m].p90),
      fluid_p50: r2(o.fluid[m].p50),
      fluid_p90: r2(o.fluid[m].p90),
      sim_setup_p50: r2(o.simSetup[m].p50),
      sim_setup_p90: r2(o.simSetup[m].p90),
      spread_p50: r2(o.spread[m].p50),
      spread_p90: r2(o.spread[m].p90),
      target_p90: TARGET_P90[m],
    }));
  });
  return toCsv(SUMMARY_CSV_COLUMNS, rows);
}

const pct = (x: number | null) => (x === null ? 'n/a' : x < 10 ? x.toFixed(1) : x.toFixed(0));

function fmtValue(m: Metric, x: number | null): string {
  if (x === null) return 'n/a';
  if (m === 'bytes') return `${(x / 1048576).toFixed(1)} MiB`;
  if (m === 'iterations') return String(Math.round(x * 10) / 10);
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`;
}

/** Which of a subset's metrics miss the targets (sim p90 above target). */
export function missedTargets(o: SubsetValidation): Metric[] {
  return METRICS.filter((m) => {
    const t = TARGET_P90[m];
    const p = o.sim[m].p90;
    return t !== null && p !== null && p > t;
  });
}

/** Markdown tables: overall per subset, then per scenario. */
export function markdownTables(v: Validation): string {
  const out: string[] = [];
  out.push(
    '| subset | metric | sim p50 | sim p90 | fluid p50 | fluid p90 | sim+setup p50 | sim+setup p90 | real spread p50 | real spread p90 | target p90 |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const sub of ['test', 'calibration', 'all'] as const) {
    const o = v.overall[sub];
    for (const m of METRICS)
      out.push(
        `| ${sub} (${o.scenarios} scn, ${o.pairs} runs) | ${NAMES[m]} | ${pct(o.sim[m].p50)} | ${pct(o.sim[m].p90)} | ${pct(o.fluid[m].p50)} | ${pct(o.fluid[m].p90)} | ${pct(o.simSetup[m].p50)} | ${pct(o.simSetup[m].p90)} | ${pct(o.spread[m].p50)} | ${pct(o.spread[m].p90)} | ${TARGET_P90[m] ?? '–'} |`,
      );
  }
  out.push('');
  out.push(
    'APE in %: sim = migscope qemu-7.2 model, fluid = SimGrid-style baseline, sim+setup = what-if: the sim with the measured setup time (the missing first-sync cost), spread = each real repeat against the median of the others.',
  );
  out.push('');
  out.push(
    '| scenario | subset | real total | sim / fluid APE total | real bytes | sim / fluid APE bytes | real downtime | sim / fluid APE downtime | real syncs | sim / fluid syncs | spread total / bytes / downtime |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of v.scenarios) {
    const e = s.errors;
    const cell = (m: Metric) => `${pct(e.sim[m].p50)} / ${pct(e.fluid[m].p50)}`;
    out.push(
      `| ${s.name} | ${s.subset} | ${fmtValue('totalTimeMs', s.real.median.totalTimeMs)} | ${cell('totalTimeMs')} | ${fmtValue('bytes', s.real.median.bytes)} | ${cell('bytes')} | ${fmtValue('downtimeMs', s.real.median.downtimeMs)} | ${cell('downtimeMs')} | ${fmtValue('iterations', s.real.median.iterations)} | ${fmtValue('iterations', s.sim.figures.iterations)} / ${fmtValue('iterations', s.fluid.figures.iterations)} | ${pct(e.spread.totalTimeMs.p50)} / ${pct(e.spread.bytes.p50)} / ${pct(e.spread.downtimeMs.p50)} |`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** The terminal summary: overall APEs per subset and which targets are missed. */
export function textSummary(v: Validation): string {
  const lines: string[] = [];
  const load = v.loadavg1
    ? ` (1-min load ${v.loadavg1.map((x) => x.toFixed(2)).join(' / ')} min/median/max)`
    : '';
  lines.push(`${v.matrix.name}: ${v.scenarios.length} scenarios, calibration ${v.calibration.name}${load}`);
  lines.push(
    'APE %            sim p50  sim p90  fluid p50 fluid p90 +setup p50 +setup p90 spread p50 spread p90 target',
  );
  for (const sub of ['test', 'calibration'] as const) {
    const o = v.overall[sub];
    if (o.scenarios === 0) continue;
    lines.push(`${sub} (${o.scenarios} scenarios, ${o.pairs} real runs)`);
    for (const m of METRICS) {
      const c = (x: number | null) => pct(x).padStart(8);
      lines.push(
        `  ${NAMES[m].padEnd(13)}${c(o.sim[m].p50)} ${c(o.sim[m].p90)} ${c(o.fluid[m].p50)}  ${c(o.fluid[m].p90)}   ${c(o.simSetup[m].p50)}   ${c(o.simSetup[m].p90)}  ${c(o.spread[m].p50)}  ${c(o.spread[m].p90)}   ${TARGET_P90[m] ?? '-'}`,
      );
    }
    const missed = missedTargets(o);
    if (sub === 'test')
      lines.push(
        missed.length
          ? `  misses the p90 target on: ${missed.map((m) => NAMES[m]).join(', ')}`
          : '  meets every p90 target',
      );
  }
  return `${lines.join('\n')}\n`;
}

/** index.html: the tables, the calibration, and links to each scenario's comparison page. */
export function indexHtml(v: Validation, compareLinks: Record<string, string>): string {
  const o = v.overall;
  const head = `<tr><th class="k">subset / metric</th><th>sim p50</th><th>sim p90</th><th>fluid p50</th><th>fluid p90</th><th>spread p50</th><th>spread p90</th><th>target p90</th></tr>`;
  const overall = (['test', 'calibration', 'all'] as const)
    .map((sub) =>
      METRICS.map(
        (m) =>
          `<tr><td class="k">${esc(sub)} (${o[sub].scenarios}) ${esc(NAMES[m])}</td><td>${pct(o[sub].sim[m].p50)}</td><td>${pct(o[sub].sim[m].p90)}</td><td>${pct(o[sub].fluid[m].p50)}</td><td>${pct(o[sub].fluid[m].p90)}</td><td>${pct(o[sub].spread[m].p50)}</td><td>${pct(o[sub].spread[m].p90)}</td><td>${TARGET_P90[m] ?? '–'}</td></tr>`,
      ).join(''),
    )
    .join('');
  const rows = v.scenarios
    .map((s) => {
      const link = compareLinks[s.name];
      const name = link ? `<a href="${esc(link)}">${esc(s.name)}</a>` : esc(s.name);
      const cells = METRICS.map(
        (m) =>
          `<td>${esc(fmtValue(m, s.real.median[m]))}</td><td>${esc(fmtValue(m, s.sim.figures[m]))}</td><td>${pct(s.errors.sim[m].p50)}</td><td>${pct(s.errors.fluid[m].p50)}</td><td>${pct(s.errors.spread[m].p50)}</td>`,
      ).join('');
      return `<tr><td class="k">${name}</td><td>${esc(s.subset)}</td>${cells}</tr>`;
    })
    .join('');
  const sub = METRICS.map(
    (m) => `<th colspan="5">${esc(NAMES[m])}: real, sim, APE sim, APE fluid, spread</th>`,
  ).join('');
  const cal = `<pre>${esc(JSON.stringify({ host: v.calibration.host, network: v.calibration.network, guest: v.calibration.guest, fixed: v.calibration.fixed }, null, 2))}</pre>`;
  const body =
    section(
      'overall',
      'Overall APE (%)',
      `<table class="top">${head}${overall}</table>`,
      'Pooled over every scenario × real repeat pair. Spread: each real repeat against the median of the other repeats.',
    ) +
    section(
      'scenarios',
      'Per scenario',
      `<table class="top"><tr><th class="k">scenario</th><th>subset</th>${sub}</tr>${rows}</table>`,
    ) +
    section('calibration', `Calibration ${v.calibration.name}`, cal);
  return htmlPage(
    `Validation: ${v.matrix.name}`,
    `${v.scenarios.length} scenarios, ${v.matrix.repeats} real repeats each, ${v.createdAt}`,
    body,
  );
}
