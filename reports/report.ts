/**
 * The report pipeline as a library call: a run (or two) in, the report's files out, as (name, content)
 * pairs produced one at a time so that a caller can write each file as soon as it exists.
 */

import { comparePage } from './compare.ts';
import { flamegraph } from './flamegraph.ts';
import { diffFolded, toFoldedText } from './folded.ts';
import type { RunData } from './read.ts';
import { analyseRun, runPage } from './run-page.ts';
import { timeline } from './timeline.ts';

/** File names a run report writes. */
export const REPORT_FILES = {
  page: 'report.html',
  foldedTime: 'flame-time.folded',
  foldedBytes: 'flame-bytes.folded',
  speedscope: 'profile.speedscope.json',
  flameTime: 'flame-time.svg',
  flameBytes: 'flame-bytes.svg',
  timeline: 'timeline.svg',
} as const;

/** File names a comparison writes. */
export const COMPARE_FILES = {
  page: 'compare.html',
  diffTime: 'diff-time.folded',
  diffBytes: 'diff-bytes.folded',
  timeline: 'timeline.svg',
} as const;

/** A run's report files in writing order: side files first, the page (which links them) last. */
export function* runReportFiles(run: RunData): Generator<[string, string]> {
  const a = analyseRun(run);
  const F = REPORT_FILES;
  const links: Record<string, string> = {};
  if (a.foldedTime.length > 0) {
    yield [F.foldedTime, toFoldedText(a.foldedTime)];
    links['folded stacks, self time in µs'] = F.foldedTime;
    yield [F.foldedBytes, toFoldedText(a.foldedBytes)];
    links['folded stacks, wire bytes'] = F.foldedBytes;
    yield [F.speedscope, `${JSON.stringify(a.speedscope)}\n`];
    links['speedscope profile (time and bytes)'] = F.speedscope;
    yield [
      F.flameTime,
      flamegraph(a.foldedTime, { title: `Where the time went: ${run.label}`, weight: 'time' }),
    ];
    links['flame graph, time (SVG)'] = F.flameTime;
    if (a.foldedBytes.length > 0) {
      yield [
        F.flameBytes,
        flamegraph(a.foldedBytes, { title: `Where the bytes went: ${run.label}`, weight: 'bytes' }),
      ];
      links['flame graph, bytes (SVG)'] = F.flameBytes;
    }
  }
  yield [F.timeline, timeline([a.series], { title: `Timeline: ${run.label}` })];
  links['timeline (SVG)'] = F.timeline;
  yield [F.page, runPage(a, { files: links })];
}

/** A comparison's files in writing order, the page last. */
export function* compareReportFiles(runA: RunData, runB: RunData): Generator<[string, string]> {
  const a = analyseRun(runA);
  const b = analyseRun(runB);
  const F = COMPARE_FILES;
  const links: Record<string, string> = {};
  if (a.foldedTime.length > 0 || b.foldedTime.length > 0) {
    yield [F.diffTime, diffFolded(a.foldedTime, b.foldedTime)];
    links['folded stacks A B, self time in µs (difffolded format)'] = F.diffTime;
    yield [F.diffBytes, diffFolded(a.foldedBytes, b.foldedBytes)];
    links['folded stacks A B, wire bytes (difffolded format)'] = F.diffBytes;
  }
  yield [F.timeline, timeline([a.series, b.series], { title: 'Timelines overlaid (A solid, B dashed)' })];
  links['overlaid timeline (SVG)'] = F.timeline;
  yield [F.page, comparePage(a, b, { files: links })];
}
