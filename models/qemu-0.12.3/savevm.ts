/**
 * The savevm framework of 0.12.3 (savevm.c: qemu_savevm_state_begin/iterate/complete; qemu-spec.md §2.4).
 * Live handlers run in registration order, "block" then "ram"; iteration stops at the first handler that
 * is not done, so RAM is not iterated while the block bulk pass runs.
 */
import type { Ns } from '../../sim/time.ts';
import { blockSaveLive } from './block-migration.ts';
import {
  EOF_BYTES,
  type SAVEVM_LIVE_HANDLERS,
  SECTION_PART_HEADER_BYTES,
  STREAM_HEADER_BYTES,
  sectionStartHeaderBytes,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { SECTION } from './qemu-file.ts';
import { ramSaveLive, type SaveResult } from './ram.ts';

type LiveHandler = (ctx: MigrationContext, stage: 1 | 2 | 3, t: Ns) => SaveResult;

const HANDLERS: ReadonlyArray<{
  idstr: (typeof SAVEVM_LIVE_HANDLERS)[number];
  save: LiveHandler;
  section: 0 | 1;
}> = [
  { idstr: 'block', save: blockSaveLive, section: SECTION.block },
  { idstr: 'ram', save: ramSaveLive, section: SECTION.ram },
];

/** qemu_savevm_state_begin: stream header, then SECTION_START + stage 1 of every live handler. */
export function qemuSavevmStateBegin(ctx: MigrationContext, t: Ns): Ns {
  ctx.file.put(STREAM_HEADER_BYTES, SECTION.device, t);
  for (const h of HANDLERS) {
    ctx.file.put(sectionStartHeaderBytes(h.idstr), h.section, t);
    t = h.save(ctx, 1, t).t;
  }
  return t;
}

/** qemu_savevm_state_iterate: SECTION_PART + stage 2 per handler, stopping at the first not done. */
export function qemuSavevmStateIterate(ctx: MigrationContext, t: Ns): SaveResult {
  let ret = 1;
  for (const h of HANDLERS) {
    ctx.file.put(SECTION_PART_HEADER_BYTES, h.section, t);
    const r = h.save(ctx, 2, t);
    t = r.t;
    ret = r.ret;
    if (ret === 0) break;
  }
  return { ret, t };
}

/**
 * qemu_savevm_state_complete: SECTION_END + stage 3 per live handler, then every device's state
 * (SECTION_FULL), EOF and a flush.
 */
export function qemuSavevmStateComplete(ctx: MigrationContext, t: Ns): Ns {
  for (const h of HANDLERS) {
    ctx.file.put(SECTION_PART_HEADER_BYTES, h.section, t);
    t = h.save(ctx, 3, t).t;
  }
  // The non-live devices, as one aggregate record of the scenario's size.
  ctx.file.put(sectionStartHeaderBytes('devices') + ctx.scn.host.deviceStateKiB * 1024, SECTION.device, t);
  t += ctx.costs.deviceSaveNs;
  ctx.file.put(EOF_BYTES, SECTION.device, t);
  ctx.file.fflush(t);
  return t;
}
