/**
 * One checkpoint transaction, as Kemari (`migrate_ft_trans_commit`) and COLO
 * (Q-7.2 migration/colo.c:colo_do_checkpoint_transaction) run it (qemu-spec.md §6): vm_stop, one dirty-log
 * sync, every dirty page and the device state sent with the rate limit off, the standby's ack, resume.
 * The standby buffers the checkpoint and commits it as a whole when it acks (a half-received checkpoint
 * is discarded on failover), so its committed copy changes only at acks.
 * Differs from C: Remus proper resumes the guest once the dirty pages are copied to a local buffer and
 * sends while it runs (only output waits for the ack); here the guest waits for the ack, as in Kemari
 * and COLO. COLO's secondary runs too and checkpoints when the outputs of the two diverge; here the
 * standby is passive and divergence is not modelled (trigger `output` is "every packet diverges").
 * Block replication is not modelled (the disk is shared storage).
 */
import type { Ns } from '../../sim/time.ts';
import {
  CHECKPOINT_FRAMING_BYTES,
  DEVICE_SECTION_HEADER_BYTES,
  EOF_BYTES,
  EOS_BYTES,
  SECTION_FOOTER_BYTES,
  SECTION_PART_HEADER_BYTES,
} from './constants.ts';
import type { Checkpoint, ReplicationContext } from './context.ts';
import { flush, put, sendDirtyPages } from './stream.ts';

/** Bytes of the device-state part of a checkpoint: SECTION_FULL "devices", the state, footer, EOF. */
export function deviceStateBytes(deviceStateKiB: number): number {
  return DEVICE_SECTION_HEADER_BYTES + deviceStateKiB * 1024 + SECTION_FOOTER_BYTES + EOF_BYTES;
}

/**
 * Stop the guest at `t` and run checkpoint `index` through to the standby's ack; the guest resumes at
 * `ackNs` (the caller commits and resumes, so that hooks can look at the standby in between).
 */
export function checkpointTransaction(
  ctx: ReplicationContext,
  index: number,
  runStartNs: Ns,
  t: Ns,
  packets: number,
): Checkpoint {
  const { mem, costs, link } = ctx;
  // vm_stop_force_state(RUN_STATE_COLO): the vCPUs stop; nothing is written until resume.
  const stopNs = t;
  mem.advanceTo(t);
  mem.schedule.stop();
  // colo_send_message(CHECKPOINT_REQUEST); qemu_savevm_state_complete_precopy: migration_bitmap_sync.
  t += costs.bitmapSyncNs;
  const dirtyPagesAtSync = mem.syncDirtyLog(ctx.bitmap);
  ctx.dirtyPages += dirtyPagesAtSync;
  const syncedNs = t;
  const ram0 = ctx.counters.bytesRam;
  const dev0 = ctx.counters.bytesDevice;
  put(ctx, CHECKPOINT_FRAMING_BYTES + SECTION_PART_HEADER_BYTES, 'ram');
  const r = sendDirtyPages(ctx, t, Number.POSITIVE_INFINITY, false);
  put(ctx, EOS_BYTES + SECTION_FOOTER_BYTES, 'ram');
  // The non-iterable devices, saved with the vCPUs stopped.
  t = r.t + costs.deviceSaveNs;
  put(ctx, deviceStateBytes(ctx.scn.host.deviceStateKiB), 'device');
  const sentNs = flush(ctx, t);
  // The standby has it all one link drain + one-way latency later; its ack takes another one-way trip.
  const arrivedNs = link.timeAllDelivered(sentNs);
  const ackNs = arrivedNs + (ctx.params.ackAfterLoad ? costs.deviceLoadNs : 0) + link.latencyNs;
  const ramBytes = ctx.counters.bytesRam - ram0;
  const deviceBytes = ctx.counters.bytesDevice - dev0;
  return {
    index,
    runStartNs,
    stopNs,
    syncedNs,
    sentNs,
    arrivedNs,
    ackNs,
    dirtyPagesAtSync,
    pagesSent: r.pages,
    bytes: ramBytes + deviceBytes,
    ramBytes,
    deviceBytes,
    packets,
  };
}

/** The standby commits the checkpoint in flight (its pages take the versions they were sent with). */
export function commitCheckpoint(ctx: ReplicationContext): void {
  const { standby, mem } = ctx;
  const dest = standby.pageVersion;
  const version = mem.version;
  if (dest && version)
    for (let i = 0; i < standby.inFlightCount; i++) {
      const p = standby.inFlight[i]!;
      dest[p] = version[p]!; // the guest is stopped: the version now is the version sent
    }
  standby.inFlightCount = 0;
}

/** vm_start: the guest runs again from `t` (its writes resume on their absolute schedule). */
export function resumeGuest(ctx: ReplicationContext, t: Ns): void {
  ctx.mem.schedule.start(t);
}
