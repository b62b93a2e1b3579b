import { describe, expect, it } from 'vitest';
import { analyseRun, RUN_PAGE_DEFAULTS, runPage } from '../../reports/run-page.ts';
import { sampleRun } from './helpers.ts';

describe('runPage', () => {
  it('has the expected defaults', () => {
    expect(RUN_PAGE_DEFAULTS).toEqual({ files: {}, width: 1200 });
  });

  it('is one self-contained page: summary, timeline, both flame graphs, links', () => {
    const run = sampleRun('tick');
    const a = analyseRun(run);
    const html = runPage(a, { files: { 'folded, time': 'flame-time.folded' } });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const id of ['summary', 'timeline', 'flame-time', 'flame-bytes', 'files'])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('<a href="flame-time.folded">');
    expect(html).toContain('tick (100 ms windows)');
    expect(html).toContain(`(${run.result!.bytes.total.toLocaleString('en-US')})`);
    expect(html).not.toMatch(/<script|<link|src="http|NaN|undefined/);
  });

  it('renders a run without a trace, and a trace without a result', () => {
    const run = sampleRun('iteration');
    const noTrace = runPage(analyseRun({ ...run, trace: null }));
    expect(noTrace).toContain('No spans: the run has no trace.');
    expect(noTrace).toContain('id="timeline"');
    const noResult = runPage(analyseRun({ ...run, result: null }));
    expect(noResult).toContain('trace only');
    expect(noResult).toContain('id="flame-time"');
  });
});
