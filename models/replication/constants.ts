/**
 * Constants of the checkpointing replication mode (qemu-spec.md §6), each with its source. The wire format
 * of a checkpoint is QEMU's stop-and-copy stream (§3.6, §3.9): the per-page costs are the same in 0.12.3
 * and 7.2 (8-byte header + 4096 bytes, or 8 + 1 for a uniform/zero page).
 */

/** Remus's default checkpoint interval, ms (`xl remus -i`, XEN-xl tools/xl/xl_cmdtable.c). */
export const REMUS_DEFAULT_INTERVAL_MS = 200;
/** COLO's periodic checkpoint, ms (`x-checkpoint-delay` 200 * 100, Q-7.2 migration.c:97; 20000 in QMP). */
export const COLO_DEFAULT_CHECKPOINT_DELAY_MS = 20_000;

/** x86 TARGET_PAGE_SIZE. */
export const TARGET_PAGE_SIZE = 4096;
/** A normal page record: be64(offset | RAM_SAVE_FLAG_PAGE) + the page (ram.c:save_normal_page). */
export const NORMAL_PAGE_BYTES = 8 + TARGET_PAGE_SIZE;
/** A zero/uniform page record: be64(offset | flags) + one byte (ram.c:save_zero_page_to_file). */
export const ZERO_PAGE_BYTES = 8 + 1;
/** be64(RAM_SAVE_FLAG_EOS) (ram.c:ram_save_complete). */
export const EOS_BYTES = 8;
/** SECTION_PART/END header (type + be32 id) and SECTION_FOOTER (0x7e + be32 id) (savevm.c). */
export const SECTION_PART_HEADER_BYTES = 5;
export const SECTION_FOOTER_BYTES = 5;
/** SECTION_FULL header of the aggregate device-state record: type, id, len + "devices", instance, version. */
export const DEVICE_SECTION_HEADER_BYTES = 1 + 4 + 1 + 'devices'.length + 4 + 4;
/** QEMU_VM_EOF (savevm.c). */
export const EOF_BYTES = 1;
/**
 * Checkpoint framing on the main channel: COLO_MESSAGE_CHECKPOINT_REQUEST and _VMSTATE_SEND (be32 each)
 * and the be64 VMSTATE size (Q-7.2 colo.c:colo_do_checkpoint_transaction, colo_send_message_value).
 * The standby's replies (CHECKPOINT_REPLY, VMSTATE_RECEIVED, VMSTATE_LOADED) travel on the return path.
 */
export const CHECKPOINT_FRAMING_BYTES = 4 + 4 + 8;
/** Initial-sync stream header: magic, version (savevm.c:qemu_savevm_state_header), ram SECTION_START. */
export const STREAM_SETUP_BYTES = 4 + 4 + (1 + 4 + 1 + 'ram'.length + 4 + 4) + 8 + SECTION_FOOTER_BYTES;

/** Pages per QEMUFile writev: 64 iovecs, two per normal page (qemu-file.c MAX_IOV_SIZE). */
export const PAGES_PER_WRITEV = 32;

/**
 * Seeded streams of this mode. Simulator-only (the guest program never draws them), so they sit apart
 * from models/workloads/streams.ts, well clear of its numbers.
 */
export const REPLICATION_STREAM = {
  /** Arrival times of the guest's outgoing network packets. */
  packets: 0x5e01,
  /** The instants at which a failover is evaluated. */
  failover: 0x5e02,
} as const;
