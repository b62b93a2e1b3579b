import { describe, expect, it } from 'vitest';
import type { RunData } from '../../reports/read.ts';
import {
  LIBVIRT_PHASES,
  niceTicks,
  pacedThroughput,
  TIMELINE_DEFAULTS,
  timeline,
  timelineSeries,
} from '../../reports/timeline.ts';
import { sampleRun } from './helpers.ts';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

describe('timelineSeries', () => {
  it('has the expected defaults', () => {
    expect(TIMELINE_DEFAULTS).toEqual({
      title: 'Timeline',
      width: 1200,
      laneHeight: 16,
      chartHeight: 220,
      id: 'timeline',
    });
    expect(LIBVIRT_PHASES).toContain('libvirt.Perform');
  });

  it('takes iterations from result.json and the 100 ms windows from a tick trace', () => {
    const run = sampleRun('tick');
    const s = timelineSeries(run);
    expect(s.iterations).toHaveLength(run.result!.iterations.length);
    expect(s.windows.length).toBeGreaterThan(100);
    for (const w of s.windows.slice(1, -1)) expect(w.endMs - w.startMs).toBeCloseTo(100, 6);
    expect(s.throughputFrom).toBe('windows');
    expect(s.libvirt.map((b) => b.name)).toEqual(['Prepare2', 'Perform', 'Finish2']);
    expect(s.phases.map((b) => b.name)).toEqual(['setup', 'downtime']);
    const dt = s.phases[1]!;
    expect(dt.endMs - dt.startMs).toBeCloseTo(run.result!.downtimeMs!, 3);
    expect(s.remaining.at(-1)![1]).toBe(0);
    expect(s.extentMs[0]).toBe(0);
  });

  it('paces iteration bytes at the link rate when there are no windows', () => {
    const run = sampleRun('iteration');
    const s = timelineSeries(run);
    expect(s.windows).toEqual([]);
    expect(s.throughputFrom).toBe('iterations');
    const link = (run.result!.scenario.network.bandwidthMbps * 1e6) / 8;
    for (const [, , v] of s.throughput) expect(v).toBeLessThanOrEqual(link * 1.000001);
    const sent = s.throughput.reduce((t, [a, b, v]) => t + (v * (b - a)) / 1000, 0);
    const made = run.result!.iterations.reduce((t, it) => t + it.bytes, 0);
    expect(sent).toBeCloseTo(made, -1);
  });

  it('draws a run with no trace from result.json alone, and a trace with no result', () => {
    const run = sampleRun('iteration');
    const resultOnly: RunData = { ...run, trace: null };
    const s = timelineSeries(resultOnly);
    expect(s.phases.map((p) => p.name)).toEqual(['setup', 'downtime']);
    expect(s.libvirt).toEqual([]);
    expect(timeline([s])).toContain('class="iteration"');
    const traceOnly: RunData = { ...run, result: null };
    const t = timelineSeries(traceOnly);
    expect(t.iterations.length).toBeGreaterThan(100);
    expect(t.remaining).toEqual([]);
    const empty = timelineSeries({ label: 'x', result: null, trace: null, dir: null });
    expect(timeline([empty])).toContain('no phases or iterations');
  });
});

describe('pacedThroughput and niceTicks', () => {
  it('spreads a burst over the link rate', () => {
    const steps = pacedThroughput([{ startMs: 0, endMs: 1, bytes: 3e6 }], 1, 10e6);
    expect(steps.map((s) => s[2])).toEqual([10e6, 10e6, 10e6]);
    expect(pacedThroughput([], 0, null)).toEqual([]);
  });

  it('gives round ticks', () => {
    expect(niceTicks(0, 13.57, 8)).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(niceTicks(250, 13572, 10)).toEqual([2000, 4000, 6000, 8000, 10000, 12000]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });
});

describe('timeline', () => {
  it('draws one bar per iteration and window, the phases, both lines and an axis', () => {
    const run = sampleRun('tick');
    const s = timelineSeries(run);
    const svg = timeline([s]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(count(svg, /<g class="iteration">/g)).toBe(s.iterations.length);
    expect(count(svg, /<g class="window">/g)).toBe(s.windows.length);
    expect(count(svg, /<g class="phase libvirt">/g)).toBe(3);
    expect(svg).toContain('>downtime</text>');
    expect(count(svg, /class="line remaining"/g)).toBe(1);
    expect(count(svg, /class="line throughput"/g)).toBe(1);
    expect(svg).toContain('100 ms windows (');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('overlays two runs, B dashed', () => {
    const a = timelineSeries(sampleRun('iteration'));
    const b = timelineSeries(sampleRun('tick'));
    const svg = timeline([a, b], { title: 'both' });
    expect(count(svg, /class="line remaining"/g)).toBe(2);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('>A: iterations (');
    expect(svg).toContain('>B: 100 ms windows (');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });
});
