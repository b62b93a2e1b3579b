/**
 * The state one 0.12.3 migration shares between its parts, as QEMU's globals and MigrationState do:
 * the source main loop, the buffered file and its QEMUFile, the RAM and block save state, the guest,
 * the destination's copy, and the spans.
 */
import type { Span } from '@opentelemetry/api';
import type { Environment } from '../../sim/env.ts';
import type { EventLoop } from '../../sim/resources/event-loop.ts';
import type { Pipe } from '../../sim/resources/pipe.ts';
import type { SpanRecorder } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import type { GuestDisk } from '../guest/disk.ts';
import type { GuestMemory } from '../guest/memory.ts';
import type { HostCosts } from '../host/costs.ts';
import type { IterationRecord } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import type { BlockMigState } from './block-migration.ts';
import type { BufferedFile } from './buffered-file.ts';
import type { QEMUFile } from './qemu-file.ts';
import type { RamState } from './ram.ts';

/** What the destination holds: the version of every page and chunk it has received. */
export interface Destination {
  pageVersion: Uint32Array | null;
  chunkVersion: Uint32Array | null;
}

export type { HostCosts };

/** Everything a 0.12.3 migration's functions share. */
export interface MigrationContext {
  env: Environment;
  rec: SpanRecorder;
  scn: Scenario;
  costs: HostCosts;
  /** The source QEMU's main loop: timers, fd handlers and monitor commands run here one at a time. */
  mainLoop: EventLoop;
  /** The migration socket: send buffer, link rate, half the RTT of latency. */
  socket: Pipe;
  mem: GuestMemory;
  disk: GuestDisk | null;
  dest: Destination;
  file: QEMUFile;
  bf: BufferedFile;
  ram: RamState;
  blk: BlockMigState;
  /** max_downtime, ns. */
  maxDowntimeNs: Ns;
  /** MIG_STATE of the source. */
  state: number;
  /** Spans the parts nest under. */
  migrationSpan: Span;
  iterations: IterationRecord[];
  /** Counters for result.extra. */
  counters: { ticks: number; ticksSkippedFrozen: number; freezes: number; kvmLapSyncs: number };
  /** Times of the milestones. */
  marks: {
    migrateNs: Ns;
    connectedNs: Ns | null;
    firstByteNs: Ns | null;
    stopNs: Ns | null;
    completeEndNs: Ns | null;
    closedNs: Ns | null;
    /** When the state left ACTIVE (completed, cancelled or failed). */
    finishedNs: Ns | null;
    /** Start of the latest main-loop handler that ran put_ready (the one that completes is the last). */
    handlerStartNs: Ns;
  };
  /** Called (on the main loop) when the state leaves ACTIVE, with the time. */
  onFinished: (t: Ns) => void;
}
