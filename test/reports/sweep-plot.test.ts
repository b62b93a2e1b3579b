import { describe, expect, it } from 'vitest';
import {
  colorAt,
  DEFAULT_METRICS,
  formatValue,
  niceTicks,
  SWEEP_PLOT_DEFAULTS,
  type SweepPlotRow,
  sweepHeatmap,
  sweepLinePlot,
  sweepPlots,
} from '../../reports/sweep-plot.ts';

const total = DEFAULT_METRICS[0]!;

/** A 3 x 2 grid with 2 repeats: total = bw * 1000 + dr (ms); bw 8 with dr 64 never converges. */
function grid(): SweepPlotRow[] {
  const rows: SweepPlotRow[] = [];
  for (const bw of [8, 32, 128])
    for (const dr of [1, 64])
      for (const rep of [0, 1])
        rows.push({
          params: { bw, dr },
          converged: !(bw === 8 && dr === 64),
          metrics: { totalTimeMs: bw * 1000 + dr + rep * 2, downtimeMs: 10, 'bytes.total': 2 ** 20 },
        });
  rows.push({
    params: { bw: 32, dr: 64 },
    converged: false,
    failed: true,
    metrics: { totalTimeMs: null, downtimeMs: null, 'bytes.total': null },
  });
  return rows;
}

/** Tags open and close in order (a small well-formedness check). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (!m[1]) stack.push(m[2]!);
    else if (stack.pop() !== m[2]) return false;
  }
  return stack.length === 0;
}

const attrs = (svg: string, cls: string, attr: string) =>
  [...svg.matchAll(new RegExp(`class="${cls}"[^>]*?\\b${attr}="([^"]*)"`, 'g'))].map((m) => m[1]!);

describe('sweep plots', () => {
  it('has explicit defaults', () => {
    expect(SWEEP_PLOT_DEFAULTS.width).toBe(720);
    expect(DEFAULT_METRICS.map((m) => m.key)).toEqual(['totalTimeMs', 'downtimeMs', 'bytes.total']);
  });

  it('heatmap: one cell per pair of values, coloured by the mean of its runs', () => {
    const svg = sweepHeatmap(grid(), { x: 'bw', y: 'dr', metric: total });
    expect(balanced(svg)).toBe(true);
    const values = attrs(svg, 'cell', 'data-value').map(Number);
    // Cells in x-major order: (8,1) (8,64) (32,1) (32,64) (128,1) (128,64), in seconds.
    expect(values).toEqual([8.002, 8.065, 32.002, 32.065, 128.002, 128.065]);
    const fills = attrs(svg, 'cell', 'fill');
    expect(fills[0]).toBe(colorAt(0));
    expect(fills[5]).toBe(colorAt(1));
  });

  it('heatmap: marks exactly the cells with non-converged runs and counts failures apart', () => {
    const svg = sweepHeatmap(grid(), { x: 'bw', y: 'dr', metric: total });
    expect(svg.match(/class="nonconverged"/g)).toHaveLength(1);
    expect(svg).toContain('bw=8, dr=64');
    expect(svg).toContain('2 of 12 runs did not converge (marked ×); 1 failed (no value)');
    const ok = grid().map((r) => ({ ...r, converged: true, failed: false }));
    expect(sweepHeatmap(ok, { x: 'bw', y: 'dr', metric: total })).not.toContain('class="nonconverged"');
  });

  it('heatmap: bins an axis with many distinct values', () => {
    const rows: SweepPlotRow[] = Array.from({ length: 100 }, (_, i) => ({
      params: { a: 100 + i * 0.37, b: i % 3 },
      converged: true,
      metrics: { totalTimeMs: i },
    }));
    const svg = sweepHeatmap(rows, { x: 'a', y: 'b', metric: total });
    expect(attrs(svg, 'cell', 'data-value').length).toBe(SWEEP_PLOT_DEFAULTS.bins * 3);
  });

  it('line plot: one line per series value, one marker per x, higher values drawn higher', () => {
    const svg = sweepLinePlot(grid(), { x: 'bw', metric: total, series: 'dr' });
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/class="line"/g)).toHaveLength(2);
    // 3 x values x 2 series = 6 markers, one of them (bw 8, dr 64) a non-converged cross.
    expect(svg.match(/class="point"/g)).toHaveLength(5);
    expect(svg.match(/class="point nonconverged"/g)).toHaveLength(1);
    const ys = attrs(svg, 'point', 'cy').map(Number);
    expect(ys[0]).toBeGreaterThan(ys[1]!); // dr=1: bw 8 (8 s) lower on the page than bw 32 (32 s)
  });

  it('line plot: scatters many distinct x values on a log axis, without lines', () => {
    const rows: SweepPlotRow[] = Array.from({ length: 40 }, (_, i) => ({
      params: { bw: 2 ** (i / 4) },
      converged: i % 10 !== 0,
      metrics: { totalTimeMs: 1000 + i },
    }));
    const svg = sweepLinePlot(rows, { x: 'bw', metric: total });
    expect(svg).not.toContain('class="line"');
    expect(svg.match(/class="point"/g)).toHaveLength(36);
    expect(svg.match(/class="point nonconverged"/g)).toHaveLength(4);
    expect(svg).toContain('>100</text>'); // a log tick
  });

  it('is deterministic and escapes text', () => {
    const rows = grid().map((r) => ({ ...r, params: { ...r.params, name: '<a&b>' } }));
    expect(sweepLinePlot(rows, { x: 'name', metric: total })).toBe(
      sweepLinePlot(rows, { x: 'name', metric: total }),
    );
    expect(sweepLinePlot(rows, { x: 'name', metric: total })).toContain('&lt;a&amp;b&gt;');
  });

  it('makes a heatmap and line plots per metric', () => {
    const names = sweepPlots(grid(), ['bw', 'dr']).map((p) => p.name);
    expect(names).toEqual([
      'heatmap-totalTimeMs-bw-dr',
      'line-totalTimeMs-bw',
      'line-totalTimeMs-dr',
      'heatmap-downtimeMs-bw-dr',
      'line-downtimeMs-bw',
      'line-downtimeMs-dr',
      'heatmap-bytes.total-bw-dr',
      'line-bytes.total-bw',
      'line-bytes.total-dr',
    ]);
    expect(sweepPlots(grid(), ['bw']).map((p) => p.name)).toEqual([
      'line-totalTimeMs-bw',
      'line-downtimeMs-bw',
      'line-bytes.total-bw',
    ]);
  });

  it('helpers: colours, ticks and labels', () => {
    expect(colorAt(0)).toBe('#440154');
    expect(colorAt(1)).toBe('#fde725');
    expect(niceTicks(0, 9.3)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(formatValue(123456)).toBe('123k');
    expect(formatValue(0.123456)).toBe('0.123');
  });
});
