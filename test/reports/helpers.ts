/** Shared test inputs for test/reports: simulated runs written to and read back from a temp directory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { writeRun } from '../../models/output.ts';
import { DEFAULT_SCENARIO_YAML, resolveScenario } from '../../models/scenario.ts';
import { simulate } from '../../models/simulate.ts';
import { type RunData, readRun, type SpanRecord } from '../../reports/read.ts';
import type { Granularity } from '../../sim/span-recorder.ts';

const cache = new Map<string, string>();

/** A fresh temporary directory. */
export function tempDir(prefix = 'migscope-reports-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The directory of the default 1 GiB scenario simulated at `granularity` (simulated once per process). */
export function sampleRunDir(granularity: Granularity = 'tick', set: Record<string, unknown> = {}): string {
  const key = `${granularity} ${JSON.stringify(set)}`;
  let dir = cache.get(key);
  if (!dir) {
    const raw = parse(DEFAULT_SCENARIO_YAML) as Record<string, Record<string, unknown>>;
    for (const [k, v] of Object.entries(set)) {
      const [sec, field] = k.split('.') as [string, string];
      raw[sec] = { ...(raw[sec] ?? {}), [field]: v };
    }
    const { result, spans } = simulate(resolveScenario(raw), { granularity });
    dir = join(tempDir(), granularity);
    writeRun(dir, result, spans);
    cache.set(key, dir);
  }
  return dir;
}

/** The default scenario's run at `granularity`, read back through reports/read.ts. */
export function sampleRun(granularity: Granularity = 'tick'): RunData {
  return readRun(sampleRunDir(granularity));
}

let seq = 0;

/** A span record for hand-built trees (times in ms for readability). */
export function span(
  name: string,
  startMs: number,
  endMs: number,
  parent: SpanRecord | null = null,
  attributes: SpanRecord['attributes'] = {},
): SpanRecord {
  seq++;
  return {
    traceId: 'a'.repeat(32),
    spanId: seq.toString(16).padStart(16, '0'),
    parentSpanId: parent?.spanId ?? '',
    name,
    startNs: startMs * 1e6,
    endNs: endMs * 1e6,
    attributes,
    events: [],
    service: 'test',
  };
}
