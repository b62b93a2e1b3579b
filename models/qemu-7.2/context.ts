/**
 * The state one 7.2 migration shares between its parts, as QEMU's MigrationState, RAMState and the
 * other globals do: the migration thread's counters, the stream, the RAM/block/multifd/xbzrle state, the
 * guest, the destination's copy and the spans.
 */
import type { Span } from '@opentelemetry/api';
import type { Environment } from '../../sim/env.ts';
import type { SimEvent } from '../../sim/events.ts';
import type { Pipe } from '../../sim/resources/pipe.ts';
import type { SpanRecorder } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import type { GuestDisk } from '../guest/disk.ts';
import type { GuestMemory } from '../guest/memory.ts';
import type { HostCosts } from '../host/costs.ts';
import type { IterationRecord } from '../result.ts';
import type { Scenario } from '../scenario.ts';
import type { BlkMigState } from './block.ts';
import type { MultiFDSendState } from './multifd.ts';
import type { QEMUFile } from './qemu-file.ts';
import type { RAMState } from './ram.ts';
import type { XbzrleState } from './xbzrle.ts';

/** What the destination holds: the version of every page and chunk it has received. */
export interface Destination {
  pageVersion: Uint32Array | null;
  chunkVersion: Uint32Array | null;
}

export type { HostCosts };

/** The capabilities in force (migrate-set-capabilities). */
export interface Capabilities {
  autoConverge: boolean;
  xbzrle: boolean;
  multifd: boolean;
  zeroBlocks: boolean;
  /** `block` (migrate -b): QEMU's own block migration. */
  block: boolean;
  /** libvirt 9.0 always turns it on (qemu_migration_params.c:151-157). */
  pauseBeforeSwitchover: boolean;
}

/** MigrationState's fields the thread uses. */
export interface MigrationStateFields {
  state: number;
  /** `iteration_start_time`, ms on QEMU_CLOCK_REALTIME. */
  iterationStartMs: number;
  iterationInitialBytes: number;
  /** `threshold_size`, bytes: 0 until the first window closes. */
  thresholdSize: number;
  /** Bandwidth of the last closed window, bytes/ms; null before the first. */
  bandwidth: number | null;
  downtimeLimitMs: number;
  /** `max-bandwidth`, bytes/s; Infinity = unlimited. */
  maxBandwidth: number;
  /** The last qemu_savevm_state_pending estimate, bytes. */
  pending: number;
  /** What migration_iteration_run decided (MIG_ITERATE_*). */
  iterState: number;
}

/** Everything a 7.2 migration's functions share. */
export interface MigrationContext {
  env: Environment;
  rec: SpanRecorder;
  scn: Scenario;
  costs: HostCosts;
  caps: Capabilities;
  /** The link all migration channels share, FIFO; see qemu-file.ts. */
  link: Pipe;
  /** Socket send buffers, pooled over the channels in use, bytes. */
  sendBuffer: number;
  mem: GuestMemory;
  disk: GuestDisk | null;
  dest: Destination;
  file: QEMUFile;
  s: MigrationStateFields;
  ram: RAMState;
  blk: BlkMigState;
  multifd: MultiFDSendState | null;
  xbzrle: XbzrleState | null;
  /** The throttle percentage in force (0 = off). */
  throttlePct: number;
  /** `pause_sem`: posted by QMP migrate-continue while the thread waits in PRE_SWITCHOVER. */
  pauseSem: SimEvent<Ns> | null;
  migrationSpan: Span;
  passSpan: Span | null;
  iterations: IterationRecord[];
  counters: {
    windows: number;
    rateLimitSleeps: number;
    iterateCalls: number;
    bigWaits: number;
    throttleSteps: number;
    /** The throttle percentages set, in order. */
    throttleHistory: number[];
    /** The throttle in force when the migration thread ended. */
    throttleFinalPct: number;
  };
  marks: {
    migrateNs: Ns;
    threadStartNs: Ns | null;
    activeNs: Ns | null;
    stopNs: Ns | null;
    /** When the thread resumed after migrate-continue (= stopNs without pause-before-switchover). */
    deviceNs: Ns | null;
    completedNs: Ns | null;
    finishedNs: Ns | null;
  };
  /** Called with each state change and its time (QMP event MIGRATION). */
  onState: (state: number, t: Ns) => void;
}
