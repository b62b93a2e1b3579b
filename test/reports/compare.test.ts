import { describe, expect, it } from 'vitest';
import type { MigrationResult } from '../../models/result.ts';
import {
  COMPARE_PAGE_DEFAULTS,
  compareMetrics,
  comparePage,
  iterationPairs,
  referenceOf,
  topDiffFrames,
} from '../../reports/compare.ts';
import { analyseRun } from '../../reports/run-page.ts';
import { sampleRun } from './helpers.ts';

function scaled(r: MigrationResult, source: 'sim' | 'real', f: number): MigrationResult {
  return {
    ...r,
    source,
    totalTimeMs: r.totalTimeMs * f,
    downtimeMs: null,
    bytes: { ...r.bytes, total: Math.round(r.bytes.total * f) },
    iterations: r.iterations.slice(0, 100),
  };
}

describe('compareMetrics', () => {
  it('has the expected defaults', () => {
    expect(COMPARE_PAGE_DEFAULTS).toEqual({ width: 1200, files: {} });
  });

  it('measures errors against the real run, absolute and in percent', () => {
    const base = sampleRun('iteration').result!;
    const sim = scaled(base, 'sim', 1);
    const real = scaled(base, 'real', 1.25);
    expect(referenceOf(sim, real)).toBe('b');
    expect(referenceOf(real, sim)).toBe('a');
    expect(referenceOf(sim, sim)).toBe('a');
    const rows = Object.fromEntries(compareMetrics(sim, real).map((m) => [m.metric, m]));
    expect(rows['total time']!.error).toBeCloseTo(-base.totalTimeMs * 0.25, 6);
    expect(rows['total time']!.errorPct).toBeCloseTo(-20, 9);
    expect(rows.downtime).toMatchObject({ a: null, b: null, error: null, errorPct: null });
    expect(rows.iterations).toMatchObject({ a: 100, b: 100, error: 0, errorPct: 0 });
    expect(compareMetrics(null, real).every((m) => m.error === null)).toBe(true);
  });

  it('lists the spans whose own figures differ most', () => {
    const a = [
      { stack: ['m', 'x'], value: 10 },
      { stack: ['n', 'x'], value: 5 },
      { stack: ['m', 'y'], value: 7 },
    ];
    const b = [
      { stack: ['m', 'x'], value: 30 },
      { stack: ['m', 'y'], value: 7 },
      { stack: ['m', 'z'], value: 2 },
      { stack: ['m', 'w'], value: 1 }, // within folding's rounding: left out
    ];
    expect(topDiffFrames(a, b)).toEqual([
      ['x', 15, 30],
      ['z', 0, 2],
    ]);
  });

  it('pairs iterations by position', () => {
    const its = sampleRun('iteration').result!.iterations;
    const p = iterationPairs(its.slice(0, 3), its.slice(0, 1));
    expect(p.map(([a, b]) => [a?.index ?? null, b?.index ?? null])).toEqual([
      [1, 1],
      [2, null],
      [3, null],
    ]);
  });
});

describe('comparePage', () => {
  it('puts the error summary, iterations, overlaid timeline and differential flame graphs on one page', () => {
    const a = analyseRun(sampleRun('iteration'));
    const bRun = sampleRun('tick');
    const b = analyseRun({ ...bRun, result: scaled(bRun.result!, 'real', 1.1) });
    const html = comparePage(a, b);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<tr class="metric-row">/g) ?? []).length).toBe(8);
    expect((html.match(/<tr class="iteration-row">/g) ?? []).length).toBe(a.run.result!.iterations.length);
    expect(html).toContain('id="diff-time"');
    expect(html).toContain('id="diff-bytes"');
    expect(html).toContain('class="timeline"');
    expect(html).toContain('Errors are A minus B, in percent of B (the real run)');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });
});
