/**
 * The state one replication run shares between its parts: the guest, the link to the standby, the
 * standby's committed copy, the migration bitmap, the byte and page counters and the record of every
 * checkpoint.
 */
import type { Span } from '@opentelemetry/api';
import type { Bitmap } from '../../sim/bitmap.ts';
import type { Environment } from '../../sim/env.ts';
import type { Pipe } from '../../sim/resources/pipe.ts';
import type { SpanRecorder } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import type { GuestMemory } from '../guest/memory.ts';
import type { Scenario } from '../scenario.ts';

/** The resolved replication section of a scenario. */
export type ReplicationParams = NonNullable<Scenario['replication']>;

/** Fixed host costs, in ns, derived from the scenario once. */
export interface HostCosts {
  pageCopyNs: Ns;
  bitmapSyncNs: Ns;
  deviceSaveNs: Ns;
  deviceLoadNs: Ns;
}

/** The standby (secondary): the version of every page it has committed. */
export interface Standby {
  /** Committed page versions (NEVER_RECEIVED until a page arrives); null without version tracking. */
  pageVersion: Uint32Array | null;
  /** Pages of the checkpoint in flight, committed together at its ack (Remus/COLO buffer a checkpoint). */
  inFlight: Int32Array;
  inFlightCount: number;
}

/** One checkpoint transaction: the guest stopped at `stopNs` and resumed at `resumeNs`. */
export interface Checkpoint {
  /** 0 = the initial synchronisation's stop-and-copy; 1.. = epochs. */
  index: number;
  /** When the guest last resumed before this checkpoint (start of the epoch's run phase). */
  runStartNs: Ns;
  stopNs: Ns;
  /** The dirty-log sync is done. */
  syncedNs: Ns;
  /** The last byte of the checkpoint is written to the socket. */
  sentNs: Ns;
  /** The last byte arrived at the standby. */
  arrivedNs: Ns;
  /** The ack is back: the checkpoint is committed and the guest resumes. */
  ackNs: Ns;
  /** Pages the sync found dirty (new since the last sync). */
  dirtyPagesAtSync: number;
  pagesSent: number;
  /** Wire bytes of the checkpoint: pages, framing and device state. */
  bytes: number;
  ramBytes: number;
  deviceBytes: number;
  /** Guest packets produced in the run phase before this checkpoint. */
  packets: number;
}

/** The initial full synchronisation: a pre-copy migration to the standby. */
export interface InitialSync {
  /** Rounds of sending, each closed by a dirty-log sync (the 7.2 model's iterations). */
  passes: number;
  /** Bytes of the pre-copy passes (the final stop-and-copy is checkpoint 0). */
  bytes: number;
  converged: boolean;
  /** When the final stop-and-copy began (or, when it did not converge, when it gave up). */
  endNs: Ns;
}

/** Everything a replication run's functions share. */
export interface ReplicationContext {
  env: Environment;
  rec: SpanRecorder;
  scn: Scenario;
  params: ReplicationParams;
  costs: HostCosts;
  /** The link to the standby: send buffer drained at the link's payload rate, half the RTT of latency. */
  link: Pipe;
  /** Bytes queued on the link at which a blocking write returns (the socket send buffer). */
  sendBuffer: number;
  /** Bytes put but not yet written to the link. */
  staged: number;
  mem: GuestMemory;
  standby: Standby;
  /** The migration bitmap: pages to send (ram_list's bmap). */
  bitmap: Bitmap;
  /** Pages set in the bitmap (RAMState.migration_dirty_pages). */
  dirtyPages: number;
  counters: { bytesRam: number; bytesDevice: number; pagesNormal: number; pagesUniform: number };
  /** Span every part nests under. */
  span: Span;
}
