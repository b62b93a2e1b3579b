/** Writing a run's files: result.json and trace.otlp.jsonl, the pair every migscope run leaves behind. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { toOtlpJsonl } from '../trace/export/otlp-jsonl.ts';
import { type MigrationResult, resultToJson } from './result.ts';

/** File names inside a run directory. */
export const RUN_FILES = { result: 'result.json', trace: 'trace.otlp.jsonl' } as const;

/** Paths written by `writeRun`. */
export interface RunPaths {
  result: string;
  trace: string | null;
}

/** Write result.json (and trace.otlp.jsonl when there are spans) into `dir`, creating it. */
export function writeRun(dir: string, result: MigrationResult, spans: readonly ReadableSpan[]): RunPaths {
  mkdirSync(dir, { recursive: true });
  const result_ = join(dir, RUN_FILES.result);
  writeFileSync(result_, resultToJson(result));
  let trace: string | null = null;
  if (spans.length > 0) {
    trace = join(dir, RUN_FILES.trace);
    writeFileSync(trace, toOtlpJsonl([spans]));
  }
  return { result: result_, trace };
}
