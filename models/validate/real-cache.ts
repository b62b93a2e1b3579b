/**
 * The cache of real lab runs: DIR/<realKey>/r<repeat>.json, one file per repeat, holding result.json's
 * record and how loaded the machine was. Real runs take seconds each, so a rerun of a matrix runs only the
 * repeats the cache lacks, one at a time.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { MigrationResult } from '../result.ts';
import type { Scenario } from '../scenario.ts';

/** One cached real run. */
export interface RealRun {
  key: string;
  repeat: number;
  /** When the run started (ISO 8601, UTC). */
  measuredAt: string;
  /** 1, 5 and 15 min load averages when the run started, and the core count. */
  loadavg: [number, number, number];
  cpus: number;
  /** Wall time of the whole lab run (boot, migration, checks), s. */
  wallS: number;
  result: MigrationResult;
}

/** Where a run is cached. */
export function realRunFile(cacheDir: string, key: string, repeat: number): string {
  return join(cacheDir, key, `r${repeat}.json`);
}

/** The cached repeats of `key`, in repeat order (missing or unreadable files are skipped). */
export function readRealRuns(cacheDir: string, key: string): RealRun[] {
  const dir = join(cacheDir, key);
  if (!existsSync(dir)) return [];
  const out: RealRun[] = [];
  for (const f of readdirSync(dir)) {
    if (!/^r\d+\.json$/.test(f)) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as RealRun);
    } catch {
      // a run interrupted while writing: it is run again
    }
  }
  return out.sort((a, b) => a.repeat - b.repeat);
}

/** Where a run's trace (trace.otlp.jsonl of the lab) is cached, when it was kept. */
export function realTraceFile(cacheDir: string, key: string, repeat: number): string {
  return join(cacheDir, key, `r${repeat}.trace.otlp.jsonl`);
}

/**
 * Store a run, and its trace when given (each written to a temporary file, then renamed, so a kill never
 * leaves half a file; the trace goes first, so a stored run always has the trace it was stored with).
 */
export function writeRealRun(cacheDir: string, run: RealRun, trace: string | null = null): string {
  const file = realRunFile(cacheDir, run.key, run.repeat);
  mkdirSync(join(cacheDir, run.key), { recursive: true });
  if (trace !== null) {
    const tf = realTraceFile(cacheDir, run.key, run.repeat);
    writeFileSync(`${tf}.tmp`, trace);
    renameSync(`${tf}.tmp`, tf);
  }
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(run)}\n`);
  renameSync(tmp, file);
  return file;
}

/** What one real migration leaves: result.json's record and, when recorded, its trace as OTLP JSON Lines. */
export interface LabOutcome {
  result: MigrationResult;
  trace: string | null;
}

/** Runs one real migration of a scenario (trace/lab's runLab in production, a stub in tests). */
export type LabRunner = (s: Scenario) => Promise<LabOutcome>;

/** The machine's state now, for a cache record. */
export function machineNow(): { measuredAt: string; loadavg: [number, number, number]; cpus: number } {
  const l = loadavg();
  return { measuredAt: new Date().toISOString(), loadavg: [l[0]!, l[1]!, l[2]!], cpus: cpus().length };
}
