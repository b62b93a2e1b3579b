/** QEMU 7.2 constants, each with its source (qemu-spec.md §1c). */

/** Default `max-bandwidth`, bytes/s (migration/migration.c:65 MAX_THROTTLE). */
export const MAX_THROTTLE = 128 << 20;
/** The rate-limit window, ms (migration.c:69 BUFFER_DELAY). */
export const BUFFER_DELAY = 100;
/** Window budget = bandwidth / XFER_LIMIT_RATIO (migration.c:70). */
export const XFER_LIMIT_RATIO = 1000 / BUFFER_DELAY;
/** Default `downtime-limit`, ms (migration.c:74 DEFAULT_MIGRATE_SET_DOWNTIME). */
export const DEFAULT_MIGRATE_SET_DOWNTIME = 300;
/** `throttle-trigger-threshold`, percent (migration.c:88). */
export const DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD = 50;
/** `cpu-throttle-initial`, percent (migration.c:89). */
export const DEFAULT_MIGRATE_CPU_THROTTLE_INITIAL = 20;
/** `cpu-throttle-increment`, percent (migration.c:90). */
export const DEFAULT_MIGRATE_CPU_THROTTLE_INCREMENT = 10;
/** `max-cpu-throttle`, percent (migration.c:91). */
export const DEFAULT_MIGRATE_MAX_CPU_THROTTLE = 99;
/** A throttle period closes at most once per this many ms (ram.c:migration_bitmap_sync). */
export const THROTTLE_PERIOD_MS = 1000;
/** `MAX_WAIT` of ram_save_iterate, ms (ram.c:2711). */
export const MAX_WAIT = 50;
/** ram_save_iterate looks at the clock every this many pages (ram.c:3334-3341). */
export const MAX_WAIT_CHECK_PAGES = 64;
/** x86 TARGET_PAGE_SIZE. */
export const TARGET_PAGE_SIZE = 4096;
/** Page-record header: be64(offset | flags) (ram.c:save_page_header). */
export const PAGE_HEADER_BYTES = 8;
/** The one RAMBlock modelled; its idstr follows the header when the block changes. */
export const RAM_BLOCK_IDSTR = 'pc.ram';
/** 1 byte len + idstr, sent with the first page after a block switch (no RAM_SAVE_FLAG_CONTINUE). */
export const IDSTR_BYTES = 1 + RAM_BLOCK_IDSTR.length;
/** ZERO page: header + 1 byte (ram.c:save_zero_page_to_file). */
export const ZERO_PAGE_BYTES = PAGE_HEADER_BYTES + 1;
/** Normal page: header + 4096 (ram.c:save_normal_page). */
export const NORMAL_PAGE_BYTES = PAGE_HEADER_BYTES + TARGET_PAGE_SIZE;
/** XBZRLE page: header + 1 B ENCODING_FLAG_XBZRLE + be16 length, then the encoding (ram.c:save_xbzrle_page). */
export const XBZRLE_PAGE_OVERHEAD = PAGE_HEADER_BYTES + 1 + 2;
/** be64 records: RAM_SAVE_FLAG_EOS, be64(total | MEM_SIZE), block used_length. */
export const BE64 = 8;
/** `xbzrle` page cache: entries keep their age in sync generations (migration/page_cache.c:24). */
export const CACHED_PAGE_LIFETIME = 2;
/** MULTIFD_PACKET_SIZE / 4 KiB = 128 pages per packet (multifd.h:37). */
export const MULTIFD_PACKET_PAGES = (512 * 1024) / TARGET_PAGE_SIZE;
/** Packet header: 320 B + 8 B per page slot, always sized for 128 slots (multifd.c:multifd_save_setup). */
export const MULTIFD_PACKET_HEADER_BYTES = 320 + 8 * MULTIFD_PACKET_PAGES;
/** MultiFDInit_t, sent once per channel when it connects (multifd.c:multifd_send_initial_packet). */
export const MULTIFD_INIT_PACKET_BYTES = 64;
/** QEMUFile copy buffer, bytes (migration/qemu-file.c:34). */
export const IO_BUF_SIZE = 32768;
/** QEMUFile iovec array: min(IOV_MAX, 64) (migration/qemu-file.c:35). */
export const MAX_IOV_SIZE = 64;
/** The machine type named in the CONFIGURATION section. */
export const MACHINE_TYPE = 'pc-i440fx-7.2';
/** Stream header: magic + version, then CONFIGURATION (type, be32 len, machine type) (savevm.c). */
export const STREAM_HEADER_BYTES = 4 + 4 + 1 + 4 + MACHINE_TYPE.length;
/** SECTION_PART/END header: type + be32 section id (savevm.c:save_section_header). */
export const SECTION_PART_HEADER_BYTES = 5;
/** SECTION_FOOTER: 0x7e + be32 section id (savevm.c:save_section_footer). */
export const SECTION_FOOTER_BYTES = 5;
/** SECTION_START/FULL: type, id, len + idstr, instance id, version id. */
export function sectionStartHeaderBytes(idstr: string): number {
  return 1 + 4 + 1 + idstr.length + 4 + 4;
}
/** QEMU_VM_EOF (savevm.c). */
export const EOF_BYTES = 1;
/** VMDESCRIPTION: type + be32 len + the JSON device description (its size assumed, 2 KiB) (savevm.c). */
export const VMDESC_BYTES = 1 + 4 + 2048;
/** Block migration's unit, 1 MiB (migration/block.c:31-42, as the two below). */
export const BLK_MIG_BLOCK_SIZE = 1 << 20;
/** Most AIO reads in flight. */
export const MAX_PARALLEL_IO = 16;
/** Most chunks read or being read at once. */
export const MAX_IO_BUFFERS = 512;
/** The device name carried in each block record (QEMU's default for -drive if=virtio). */
export const BLOCK_DEVICE_NAME = 'virtio0';
/** be64(sector | flags), len byte, name; data follows unless ZERO_BLOCK. */
export const BLOCK_RECORD_HEADER_BYTES = 8 + 1 + BLOCK_DEVICE_NAME.length;
/** Migration states (qapi/migration.json MigrationStatus; only those the model reaches). */
export const MIGRATION_STATUS = {
  NONE: 0,
  SETUP: 1,
  CANCELLING: 2,
  CANCELLED: 3,
  ACTIVE: 4,
  PRE_SWITCHOVER: 5,
  DEVICE: 6,
  COMPLETED: 7,
  FAILED: 8,
} as const;
/** MigrationStatus values as QMP spells them, for MIGRATION events. */
export const MIGRATION_STATUS_NAME = [
  'none',
  'setup',
  'cancelling',
  'cancelled',
  'active',
  'pre-switchover',
  'device',
  'completed',
  'failed',
] as const;
/** Live savevm handlers in registration order: "block" (block.c:1034) before "ram" v4 (ram.c:4682). */
export const SAVEVM_LIVE_HANDLERS = ['block', 'ram'] as const;
