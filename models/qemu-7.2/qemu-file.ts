/**
 * QEMUFile of 7.2 on a blocking channel (migration/qemu-file.c; qemu-spec.md §3.2-3.3): records are
 * copied into a 32 KiB buffer, or (normal pages) queued as iovecs pointing at guest RAM, and written with
 * one blocking writev when the buffer or the 64-entry iovec array is full, or on an explicit flush.
 * Differs from C: a normal page counts as two iovecs (its header and the page) and copied records as none
 * (in C adjacent copies share one iovec), so a writev carries 32 normal pages. The
 * rate limiter only counts: `rate_limit_used` grows by every byte put (and by multifd packets) and is reset
 * by migration_update_counters at each 100 ms window.
 *
 * The wire: every channel (the main one and the multifd ones) writes into one FIFO `link` (a Pipe of
 * unbounded capacity, so writes can be offered in time order from one clock), and a blocking write is done
 * when the bytes queued on the link are back down to `sendBuffer` (the socket send buffers, pooled).
 */
import type { Pipe } from '../../sim/resources/pipe.ts';
import type { Ns } from '../../sim/time.ts';
import { IO_BUF_SIZE, MAX_IOV_SIZE } from './constants.ts';

/** Which part of the stream a byte belongs to, for result.bytes. */
export const SECTION = { ram: 0, block: 1, device: 2 } as const;
/** One of SECTION's values. */
export type Section = (typeof SECTION)[keyof typeof SECTION];

/** A blocking write of `bytes` at `t` on `link`; returns when the writer may go on. */
export function channelWrite(link: Pipe, sendBuffer: number, bytes: number, t: Ns): Ns {
  link.offer(bytes, t);
  return link.timeLevelAtMost(sendBuffer, t);
}

/** The outgoing migration stream (`to_dst_file`). */
export class QEMUFile {
  // The staging state is public for ram.ts's send loop, which updates it inline (one page at a time).
  /** Bytes put but not yet written to the channel. */
  staged = 0;
  /** Bytes in the copy buffer, and iovecs queued. */
  bufIndex = 0;
  iovcnt = 0;
  /** `total_transferred`: bytes written to the socket (multifd bytes are counted apart). */
  totalTransferred = 0;
  /** Bytes put since the start, in total and per section (multifd packets included, see `account`). */
  total = 0;
  readonly bySection = [0, 0, 0];
  /** `rate_limit_max`: the window budget in bytes; Infinity = no limit. */
  rateLimitMax: number;
  /** `rate_limit_used`. */
  rateLimitUsed = 0;
  /** Set by migrate_fd_cancel (qemu_file_shutdown): writes are dropped, the rate limit says stop. */
  shutdown = false;

  constructor(
    private readonly link: Pipe,
    private readonly sendBuffer: number,
    rateLimitMax: number,
  ) {
    this.rateLimitMax = rateLimitMax;
  }

  /** qemu_put_buffer / qemu_put_be64 ...: `n` bytes copied into the buffer at `t`; returns the time after. */
  put(n: number, section: Section, t: Ns): Ns {
    this.total += n;
    this.bySection[section]! += n;
    this.rateLimitUsed += n;
    this.staged += n;
    this.bufIndex += n;
    if (this.bufIndex >= IO_BUF_SIZE) return this.fflush(t);
    return t;
  }

  /** qemu_put_buffer_async: `n` bytes of guest RAM queued as their own iovec, after a header's (no copy). */
  putAsync(n: number, section: Section, t: Ns): Ns {
    this.total += n;
    this.bySection[section]! += n;
    this.rateLimitUsed += n;
    this.staged += n;
    this.iovcnt += 2;
    if (this.iovcnt >= MAX_IOV_SIZE) return this.fflush(t);
    return t;
  }

  /** qemu_file_acct_rate_limit for bytes another channel (multifd) carries; counted, not staged. */
  account(n: number, section: Section): void {
    this.total += n;
    this.bySection[section]! += n;
    this.rateLimitUsed += n;
  }

  /** qemu_fflush: one blocking writev of everything staged; returns when the socket took it. */
  fflush(t: Ns): Ns {
    const n = this.staged;
    this.staged = 0;
    this.bufIndex = 0;
    this.iovcnt = 0;
    if (n === 0 || this.shutdown) return t;
    this.totalTransferred += n;
    return channelWrite(this.link, this.sendBuffer, n, t);
  }

  /** qemu_file_rate_limit. */
  rateLimit(): boolean {
    return this.shutdown || this.rateLimitUsed > this.rateLimitMax;
  }
}
