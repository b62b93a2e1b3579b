/**
 * The guest's virtual disk as block migration sees it: 1 MiB chunks (BDRV_SECTORS_PER_DIRTY_CHUNK), the
 * guest's seeded 4 KiB writes over the allocated area, the block layer's dirty tracking, and a version
 * per chunk for the delivery invariant.
 */
import { Bitmap } from '../../sim/bitmap.ts';
import { createRng, type Rng } from '../../sim/random.ts';
import { mod32 } from '../workloads/page-writes.ts';
import { STREAM } from '../workloads/streams.ts';
import { WriteSchedule } from './write-schedule.ts';

/** Bytes per dirty-tracking chunk and per block-migration transfer unit (2048 sectors of 512 B). */
export const CHUNK_SIZE = 1 << 20;
/** Bytes per guest disk write. */
export const DISK_WRITE_SIZE = 4096;

/** Guest disk: writes, dirty tracking and versions per 1 MiB chunk. */
export class GuestDisk {
  readonly chunks: number;
  /** bdrv dirty tracking: chunks written while tracking is on. */
  readonly dirty: Bitmap;
  tracking = false;
  dirtyCount = 0;
  readonly version: Uint32Array;
  readonly schedule: WriteSchedule;
  private readonly rng: Rng;
  private readonly allocatedBlocks: number;

  constructor(sizeMiB: number, allocatedMiB: number, writeMiBps: number, seed: number) {
    this.chunks = Math.ceil(sizeMiB);
    this.dirty = new Bitmap(this.chunks);
    this.version = new Uint32Array(this.chunks);
    this.rng = createRng(seed, STREAM.diskWrites);
    this.allocatedBlocks = Math.floor((allocatedMiB * CHUNK_SIZE) / DISK_WRITE_SIZE);
    const rate = this.allocatedBlocks > 0 ? (writeMiBps * CHUNK_SIZE) / DISK_WRITE_SIZE : 0;
    this.schedule = new WriteSchedule(rate, 0);
  }

  /** Apply every guest disk write due at or before `t`. */
  advanceTo(t: number): void {
    const sched = this.schedule;
    while (sched.nextNs <= t) {
      const block = mod32(this.rng.uint32(), this.allocatedBlocks);
      const chunk = Math.floor((block * DISK_WRITE_SIZE) / CHUNK_SIZE);
      this.version[chunk]!++;
      if (this.tracking && !this.dirty.test(chunk)) {
        this.dirty.set(chunk);
        this.dirtyCount++;
      }
      sched.advance();
    }
  }

  /** Turn dirty tracking on (bdrv_set_dirty_tracking) with an empty bitmap, or off. */
  setTracking(on: boolean): void {
    this.tracking = on;
    this.dirty.fill(false);
    this.dirtyCount = 0;
  }

  /** Reset the dirty bit of `chunk` (at bulk submit or dirty send). */
  resetDirty(chunk: number): void {
    if (this.dirty.test(chunk)) {
      this.dirty.clear(chunk);
      this.dirtyCount--;
    }
  }
}
