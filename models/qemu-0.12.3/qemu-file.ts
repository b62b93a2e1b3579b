/**
 * QEMUFile's staging buffer (savevm.c: qemu_put_byte/qemu_put_buffer/qemu_fflush): bytes are copied
 * into a 32 KiB buffer and handed to the buffered file only when it is full, or on an explicit flush.
 * Only sizes are modelled; bytes are attributed to the section that wrote them.
 */
import type { Ns } from '../../sim/time.ts';
import type { BufferedFile } from './buffered-file.ts';
import { IO_BUF_SIZE } from './constants.ts';

/** Which part of the stream a byte belongs to, for result.bytes. */
export const SECTION = { ram: 0, block: 1, device: 2 } as const;
export type Section = (typeof SECTION)[keyof typeof SECTION];

/** The staging buffer in front of the buffered file. */
export class QEMUFile {
  /** Bytes staged, not yet handed to the buffered file. */
  bufIndex = 0;
  /** Bytes put since the start, in total and per section. */
  total = 0;
  readonly bySection = [0, 0, 0];

  constructor(private readonly bf: BufferedFile) {}

  /** qemu_put_buffer of `n` bytes at time `t` (records are never split across calls here). */
  put(n: number, section: Section, t: Ns): void {
    this.total += n;
    this.bySection[section]! += n;
    this.bufIndex += n;
    while (this.bufIndex >= IO_BUF_SIZE) {
      this.bufIndex -= IO_BUF_SIZE;
      this.bf.putBuffer(IO_BUF_SIZE, t);
    }
  }

  /**
   * Like `put`, but hands every full 32 KiB of the staging buffer to the buffered file in one call. Only
   * for bytes that `BufferedFile.sendsWithinBudget` cleared: then one send of the whole run is what the
   * separate flushes would have done.
   */
  putWithinBudget(n: number, section: Section, t: Ns): void {
    this.total += n;
    this.bySection[section]! += n;
    this.bufIndex += n;
    const full = this.bufIndex - (this.bufIndex % IO_BUF_SIZE);
    if (full > 0) {
      this.bufIndex -= full;
      this.bf.putBuffer(full, t);
    }
  }

  /** Bytes that can be put before the staging buffer fills and is flushed (rate limits change only then). */
  room(): number {
    return IO_BUF_SIZE - this.bufIndex;
  }

  /** qemu_fflush: hand whatever is staged to the buffered file. */
  fflush(t: Ns): void {
    if (this.bufIndex > 0) {
      const n = this.bufIndex;
      this.bufIndex = 0;
      this.bf.putBuffer(n, t);
    }
  }

  /** qemu_file_rate_limit → buffered_rate_limit. */
  rateLimit(): boolean {
    return this.bf.rateLimit();
  }
}
