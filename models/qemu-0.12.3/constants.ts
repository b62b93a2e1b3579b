/** qemu-kvm 0.12.3 constants, each with its source (qemu-spec.md §1a). */

/** Default migration bandwidth cap, bytes/s (migration.c:35 `max_throttle`). */
export const MAX_THROTTLE = 32 << 20;
/** Default tolerated downtime, ns (migration.c:140 `max_downtime`). */
export const MAX_DOWNTIME_NS = 30_000_000;
/** Period of `buffered_rate_tick`, ms on rt_clock (buffered_file.c:228,266). */
export const BUFFERED_RATE_TICK_MS = 100;
/** QEMUFile staging buffer, flushed to the buffered file when full (savevm.c:161). */
export const IO_BUF_SIZE = 32768;
/** x86 page size (target-i386/cpu.h:890, TARGET_PAGE_BITS 12). */
export const TARGET_PAGE_SIZE = 4096;
/** A page record: be64(addr | flags), then 1 byte (COMPRESS) or 4096 bytes (PAGE) (vl.c:ram_save_block). */
export const RAM_SAVE_UNIFORM_PAGE_BYTES = 8 + 1;
export const RAM_SAVE_NORMAL_PAGE_BYTES = 8 + TARGET_PAGE_SIZE;
/** be64(last_ram_offset | MEM_SIZE) and be64(EOS) (vl.c:ram_save_live). */
export const RAM_SAVE_MEM_SIZE_BYTES = 8;
export const RAM_SAVE_EOS_BYTES = 8;
/** Block migration transfer unit: 2048 sectors of 512 B (block-migration.c:22 BLOCK_SIZE). */
export const BLOCK_SIZE = 2048 << 9;
/** The bdrv device name carried in every block record (block-migration.c:blk_send). */
export const BLOCK_DEVICE_NAME = 'ide0-hd0';
/** A block record: be64(sector << 9 | flags), byte len, name, then BLOCK_SIZE bytes of data. */
export const BLOCK_RECORD_BYTES = 8 + 1 + BLOCK_DEVICE_NAME.length + BLOCK_SIZE;
/** be64 progress or EOS records of the block section. */
export const BLOCK_FLAG_RECORD_BYTES = 8;
/** Stream header: be32 QEMU_VM_FILE_MAGIC + be32 QEMU_VM_FILE_VERSION (savevm.c:1280-1282). */
export const STREAM_HEADER_BYTES = 8;
/** SECTION_PART / SECTION_END: byte type + be32 section id (savevm.c:qemu_savevm_state_iterate). */
export const SECTION_PART_HEADER_BYTES = 5;
/** SECTION_START / SECTION_FULL: type, section id, len + idstr, instance id, version id. */
export function sectionStartHeaderBytes(idstr: string): number {
  return 1 + 4 + 1 + idstr.length + 4 + 4;
}
/** QEMU_VM_EOF. */
export const EOF_BYTES = 1;
/** Migration states (migration.h:20-23). */
export const MIG_STATE = { ERROR: -1, COMPLETED: 0, CANCELLED: 1, ACTIVE: 2 } as const;
/** Live savevm handlers in registration order: "block" (block-migration.c:539) before "ram" (vl.c:5991). */
export const SAVEVM_LIVE_HANDLERS = ['block', 'ram'] as const;
