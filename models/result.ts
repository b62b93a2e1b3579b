/**
 * The result of one migration, simulated or real (../shared/contracts/result.md). Times are milliseconds,
 * bytes integers. Field order is fixed here so that equal runs serialise to identical bytes.
 */
import type { Scenario } from './scenario.ts';

export type Outcome = 'completed' | 'failed' | 'cancelled' | 'timeout';

/** One pass over RAM: one dirty-bitmap sync and the sending that follows it. */
export interface IterationRecord {
  index: number;
  startMs: number;
  endMs: number;
  /** Wire bytes sent by the iteration (RAM, plus block where the model iterates it). */
  bytes: number;
  pagesSent: number;
  /** Newly dirty pages the sync found. */
  dirtyPagesAtSync: number;
  /** Dirty pages left when the iteration ended. */
  remainingPages: number;
  /** Bytes/s as the model computed it for its convergence test (null where the source has none). */
  bandwidthEstimate: number | null;
}

/** Where the downtime went (ms). Null parts were not measured. */
export interface DowntimeBreakdown {
  /** vm_stop to the end of the last pass + device state on the source. */
  finalPassMs: number | null;
  /** Draining what is still buffered and in flight to the destination. */
  drainMs: number | null;
  /** Destination finishing the load after the last byte. */
  loadMs: number | null;
  /** Management (libvirt) from source completion to the destination running. */
  managementMs: number | null;
}

/** result.json. */
export interface MigrationResult {
  source: 'sim' | 'real';
  model: string;
  scenario: Scenario;
  outcome: Outcome;
  converged: boolean;
  /** Why a run did not complete, in one line; null when it completed. */
  message: string | null;
  totalTimeMs: number;
  downtimeMs: number | null;
  setupTimeMs: number | null;
  /** Wire bytes by section; a real run says null for a section its sources cannot measure. */
  bytes: { total: number; ram: number; block: number; device: number | null };
  pages: { normal: number; uniform: number };
  iterations: IterationRecord[];
  downtimeBreakdown: DowntimeBreakdown;
  /** Extra counters a model or the lab reports (throttle steps, xbzrle hits, polls, ...). */
  extra: Record<string, number | string | boolean | null>;
  /** For simulated runs: whether the destination ended with the last version of every page and chunk. */
  delivery: { checked: boolean; pagesStale: number; chunksStale: number } | null;
}

/** result.json text: stable key order, two-space indent, trailing newline. */
export function resultToJson(r: MigrationResult): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
