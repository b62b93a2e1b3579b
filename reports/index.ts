/** migscope reports: runs in, pictures and pages out. Every report is a pure `(data, options) → string`. */

export type { ComparePageOptions, MetricKind, MetricRow } from './compare.ts';
export {
  COMPARE_PAGE_DEFAULTS,
  compareMetrics,
  comparePage,
  iterationPairs,
  referenceOf,
} from './compare.ts';
export type { FlamegraphOptions } from './flamegraph.ts';
export { diffFlamegraph, FLAMEGRAPH_DEFAULTS, flamegraph } from './flamegraph.ts';
export type { FoldedStack, FoldOptions, Weight } from './folded.ts';
export { diffFolded, FOLD_DEFAULTS, foldedTotal, foldStacks, parseFolded, toFoldedText } from './folded.ts';
export type { AttrValue, RunData, SpanEventRecord, SpanRecord, TraceData } from './read.ts';
export { parseOtlpJsonl, parseResult, readResult, readRun, readTrace } from './read.ts';
export { COMPARE_FILES, compareReportFiles, REPORT_FILES, runReportFiles } from './report.ts';
export type { RunAnalysis, RunPageOptions } from './run-page.ts';
export { analyseRun, RUN_PAGE_DEFAULTS, runPage } from './run-page.ts';
export type { SpanNode } from './span-tree.ts';
export { NEST_ORDER, spanForest } from './span-tree.ts';
export type { SpeedscopeFile, SpeedscopeOptions } from './speedscope.ts';
export { SPEEDSCOPE_DEFAULTS, SPEEDSCOPE_SCHEMA, toSpeedscope } from './speedscope.ts';
export type { TimelineOptions, TimelineSeries } from './timeline.ts';
export { niceTicks, TIMELINE_DEFAULTS, timeline, timelineSeries } from './timeline.ts';
