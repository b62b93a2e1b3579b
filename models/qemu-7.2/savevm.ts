/**
 * The savevm framework of 7.2 (migration/savevm.c; qemu-spec.md §3.5): live handlers in registration
 * order, "block" (only with the `block` capability) then "ram"; setup writes SECTION_START, iteration
 * SECTION_PART and stops at a rate-limited file or at the first handler returning ≤ 0; completion writes
 * SECTION_END for the live handlers, then every device's state, EOF and the JSON description.
 */
import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { blockSaveComplete, blockSaveIterate, blockSavePending, blockSaveSetup } from './block.ts';
import {
  EOF_BYTES,
  SECTION_FOOTER_BYTES,
  SECTION_PART_HEADER_BYTES,
  STREAM_HEADER_BYTES,
  sectionStartHeaderBytes,
  VMDESC_BYTES,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { SECTION } from './qemu-file.ts';
import { ramPendingBytes, ramSaveComplete, ramSaveIterate, ramSavePending, ramSaveSetup } from './ram.ts';

/** qemu_savevm_state_header: magic, version, CONFIGURATION section. */
export function qemuSavevmStateHeader(ctx: MigrationContext, t: Ns): Ns {
  return ctx.file.put(STREAM_HEADER_BYTES, SECTION.device, t);
}

/** qemu_savevm_state_setup: SECTION_START + save_setup + footer per active live handler. */
export function qemuSavevmStateSetup(ctx: MigrationContext, t: Ns): Ns {
  const file = ctx.file;
  if (ctx.blk.active) {
    t = file.put(sectionStartHeaderBytes('block'), SECTION.block, t);
    t = blockSaveSetup(ctx, t);
    t = file.put(SECTION_FOOTER_BYTES, SECTION.block, t);
  }
  t = file.put(sectionStartHeaderBytes('ram'), SECTION.ram, t);
  t = ramSaveSetup(ctx, t);
  t = file.put(SECTION_FOOTER_BYTES, SECTION.ram, t);
  return file.fflush(t);
}

/**
 * qemu_savevm_state_pending: the sum of every live handler's estimate (all precopy-only here), left in
 * `ctx.s.pending`. RAM may sync its bitmap on the way. Returns the time after.
 */
export function qemuSavevmStatePending(ctx: MigrationContext, maxSize: number, t: Ns): Ns {
  let pending = 0;
  if (ctx.blk.active) pending += blockSavePending(ctx, maxSize);
  t = ramSavePending(ctx, maxSize, t);
  pending += ramPendingBytes(ctx);
  ctx.s.pending = pending;
  return t;
}

/** qemu_savevm_state_iterate: SECTION_PART + save_live_iterate + footer per handler, in order. */
export function qemuSavevmStateIterate(ctx: MigrationContext, t: Ns): Ns {
  const file = ctx.file;
  const start = t;
  const bytes0 = file.total;
  ctx.counters.iterateCalls++;
  if (ctx.blk.active) {
    if (file.rateLimit()) return t;
    t = file.put(SECTION_PART_HEADER_BYTES, SECTION.block, t);
    t = blockSaveIterate(ctx, t); // returns 1: its EOS always counts as bytes written
    t = file.put(SECTION_FOOTER_BYTES, SECTION.block, t);
  }
  if (file.rateLimit()) return t;
  t = file.put(SECTION_PART_HEADER_BYTES, SECTION.ram, t);
  t = ramSaveIterate(ctx, t);
  t = file.put(SECTION_FOOTER_BYTES, SECTION.ram, t);
  ctx.rec.span(SPAN.iteration, LEVEL.tick, ctx.migrationSpan, start, t, {
    [ATTR.bytes]: file.total - bytes0,
    [ATTR.remainingPages]: ctx.ram.migrationDirtyPages,
  });
  return t;
}

/**
 * qemu_savevm_state_complete_precopy (savevm.c:1433): SECTION_END + complete per live handler, then the
 * non-iterable devices (one aggregate record of the scenario's size, taking deviceSaveMs), EOF, the JSON
 * vmdesc and a flush.
 */
export function qemuSavevmStateCompletePrecopy(ctx: MigrationContext, t: Ns): Ns {
  const file = ctx.file;
  if (ctx.blk.active) {
    t = file.put(SECTION_PART_HEADER_BYTES, SECTION.block, t);
    t = blockSaveComplete(ctx, t);
    t = file.put(SECTION_FOOTER_BYTES, SECTION.block, t);
  }
  t = file.put(SECTION_PART_HEADER_BYTES, SECTION.ram, t);
  t = ramSaveComplete(ctx, t);
  t = file.put(SECTION_FOOTER_BYTES, SECTION.ram, t);
  const start = t;
  const deviceBytes =
    sectionStartHeaderBytes('devices') + ctx.scn.host.deviceStateKiB * 1024 + SECTION_FOOTER_BYTES;
  t += ctx.costs.deviceSaveNs;
  t = file.put(deviceBytes, SECTION.device, t);
  t = file.put(EOF_BYTES + VMDESC_BYTES, SECTION.device, t);
  t = file.fflush(t);
  ctx.rec.span(SPAN.deviceState, LEVEL.stage, ctx.migrationSpan, start, t, { [ATTR.bytes]: deviceBytes });
  return t;
}
