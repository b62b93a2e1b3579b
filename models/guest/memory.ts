/**
 * Guest RAM as the migration sees it: which pages the vCPUs write and when (the workload), KVM's dirty
 * log of the pages written since the last sync, each page's content class (uniform or not), and a
 * version per page so tests can check that the destination ends with the last-written version of every
 * page. Memory is linear in VM size: bitmaps and one Uint32 per page, never an object per page.
 */
import { Bitmap } from '../../sim/bitmap.ts';
import type { ContentModel } from '../workloads/content.ts';
import type { PageWriteSequence } from '../workloads/page-writes.ts';
import { WriteSchedule } from './write-schedule.ts';

/** Options of a guest memory. */
export interface GuestMemoryOptions {
  pages: number;
  writes: PageWriteSequence | null;
  /** Writes per second at the nominal rate. */
  writesPerS: number;
  content: ContentModel;
  /** Keep a version per page (4 bytes a page) for the delivery invariant. */
  trackVersions: boolean;
  /** Pages the workload wrote before the migration started (its working set): [from, to) or a list. */
  writtenBefore?: [number, number] | Int32Array;
}

/** Guest RAM: writes, dirty log, content classes and versions. */
export class GuestMemory {
  readonly pages: number;
  /** Pages ever written by the workload (their content is not uniform). */
  readonly written: Bitmap;
  /** KVM's dirty log: pages written since the last sync, while logging is on. */
  readonly dirtyLog: Bitmap;
  /** Version of each page on the source: the number of writes it has had. */
  readonly version: Uint32Array | null;
  readonly schedule: WriteSchedule;
  /** Whether KVM logs writes (KVM_MEM_LOG_DIRTY_PAGES). */
  logging = false;
  private log: Int32Array;
  /** Page indices of the writes being applied, filled a batch at a time. */
  private readonly batch = new Int32Array(512);
  private logLen = 0;
  private readonly writes: PageWriteSequence | null;
  readonly content: ContentModel;

  constructor(o: GuestMemoryOptions) {
    this.pages = o.pages;
    this.written = new Bitmap(o.pages);
    this.dirtyLog = new Bitmap(o.pages);
    this.version = o.trackVersions ? new Uint32Array(o.pages) : null;
    this.writes = o.writes;
    this.content = o.content;
    this.log = new Int32Array(1024);
    this.schedule = new WriteSchedule(o.writes ? o.writesPerS : 0, 0);
    const wb = o.writtenBefore;
    if (wb instanceof Int32Array) for (const p of wb) this.written.set(p);
    else if (wb) this.written.setRange(wb[0], wb[1]);
  }

  /** Apply every write due at or before `t` (the vCPUs ran until `t`). */
  advanceTo(t: number): void {
    const sched = this.schedule;
    if (sched.nextNs > t) return;
    const end = sched.dueEnd(t);
    const writes = this.writes!;
    const written = this.written.words;
    const dl = this.dirtyLog.words;
    const version = this.version;
    const logging = this.logging;
    let log = this.log;
    let logLen = this.logLen;
    const batch = this.batch;
    for (let k = sched.k; k < end; ) {
      const n = Math.min(end - k, batch.length);
      writes.fill(batch, n);
      k += n;
      for (let i = 0; i < n; i++) {
        const p = batch[i]!;
        const w = p >>> 5;
        const bit = 1 << (p & 31);
        written[w]! |= bit;
        if (version) version[p]!++;
        if (logging && (dl[w]! & bit) === 0) {
          dl[w]! |= bit;
          if (logLen === log.length) {
            this.logLen = logLen;
            this.growLog();
            log = this.log;
          }
          log[logLen++] = p;
        }
      }
    }
    this.logLen = logLen;
    sched.advanceTo(end);
  }

  /** Whether page `p` holds one repeated byte right now. */
  isUniform(p: number): boolean {
    return !this.written.test(p) && this.content.initiallyUniform(p);
  }

  /** Start or stop KVM dirty logging; starting clears the log. */
  setLogging(on: boolean): void {
    this.logging = on;
    this.clearLog();
  }

  /** Pages in the dirty log now. */
  get logged(): number {
    return this.logLen;
  }

  /**
   * KVM_GET_DIRTY_LOG: OR the log into `into` (a migration bitmap), clear the log, and return how many
   * pages became newly set in `into`.
   */
  syncDirtyLog(into: Bitmap): number {
    const dl = this.dirtyLog.words;
    const bm = into.words;
    let added = 0;
    for (let i = 0; i < this.logLen; i++) {
      const p = this.log[i]!;
      const w = p >>> 5;
      const bit = 1 << (p & 31);
      dl[w]! &= ~bit;
      if ((bm[w]! & bit) === 0) {
        bm[w]! |= bit;
        added++;
      }
    }
    this.logLen = 0;
    return added;
  }

  private clearLog(): void {
    const dl = this.dirtyLog.words;
    for (let i = 0; i < this.logLen; i++) dl[this.log[i]! >>> 5] = 0;
    this.logLen = 0;
  }

  private growLog(): void {
    const next = new Int32Array(this.log.length * 2);
    next.set(this.log);
    this.log = next;
  }
}
