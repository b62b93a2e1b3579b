/**
 * buffered_file.c of 0.12.3: the rate limiter between savevm and the migration socket (qemu-spec.md §2.3).
 * A tick every 100 ms resets the byte budget (`xfer_limit` = bandwidth / 10), flushes what was kept back,
 * and runs one savevm iteration. `put_buffer` sends until the budget is spent or the socket would block;
 * the rest waits in memory. A socket that would block freezes the file until it is writable again.
 */

import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { EVENT } from '../../trace/names.ts';
import type { MigrationContext } from './context.ts';

/** The buffered QEMUFile backend (`QEMUFileBuffered`). */
export class BufferedFile {
  /** Bytes pushed to the socket this tick (not counting flushes of the kept-back buffer). */
  bytesXfer = 0;
  xferLimit: number;
  freezeOutput = false;
  hasError = false;
  /** Bytes kept back in memory (`buffer_size`). */
  bufferSize = 0;
  /** The put_ready callback (migrate_fd_put_ready), set by migrate_fd_connect. */
  putReady: (t: Ns) => Ns = (t) => t;
  /** A write handler (migrate_fd_put_notify) is registered on the socket. */
  private notifyArmed = false;
  private frozenSince: Ns = 0;

  constructor(
    private readonly ctx: MigrationContext,
    bytesPerSec: number,
  ) {
    // buffered_set_rate_limit / qemu_fopen_ops_buffered: xfer_limit = bytes_per_sec / 10 (size_t division).
    this.xferLimit = Math.floor(bytesPerSec / 10);
  }

  /** migrate_fd_put_buffer: a non-blocking send(); returns bytes accepted, 0 for EAGAIN. */
  private send(n: number, t: Ns): number {
    const ctx = this.ctx;
    const sent = ctx.socket.offer(n, t);
    if (sent > 0 && ctx.marks.firstByteNs === null) ctx.marks.firstByteNs = t;
    return sent;
  }

  /** buffered_put_buffer (buffered_file.c): flush the backlog, then send under the budget, keep the rest. */
  putBuffer(size: number, t: Ns): void {
    if (this.hasError) return;
    this.freezeOutput = false;
    this.flush(t);
    let offset = 0;
    while (!this.freezeOutput && offset < size) {
      if (this.bytesXfer > this.xferLimit) break; // budget spent: keep the rest in memory
      const ret = this.send(size - offset, t);
      if (ret === 0) {
        this.freeze(t);
        break;
      }
      offset += ret;
      this.bytesXfer += ret;
    }
    this.bufferSize += size - offset;
  }

  /** buffered_flush: send the kept-back bytes until EAGAIN; these do not count against the budget. */
  flush(t: Ns): void {
    while (this.bufferSize > 0) {
      const ret = this.send(this.bufferSize, t);
      if (ret === 0) {
        this.freeze(t);
        return;
      }
      this.bufferSize -= ret;
    }
  }

  /**
   * Whether `bytes` more, put at `t` or later, would all be sent at once without spending the budget:
   * no freeze, bytes_xfer stays <= xfer_limit, and the socket has room for them and the backlog.
   * (A model shortcut for the send loop, not a C function.)
   */
  sendsWithinBudget(bytes: number, t: Ns): boolean {
    return (
      !this.hasError &&
      !this.freezeOutput &&
      this.bytesXfer + bytes <= this.xferLimit &&
      this.bufferSize + bytes <= this.ctx.socket.free(t)
    );
  }

  /** buffered_rate_limit. */
  rateLimit(): boolean {
    if (this.hasError) return false;
    return this.freezeOutput || this.bytesXfer > this.xferLimit;
  }

  /**
   * EAGAIN: freeze and register migrate_fd_put_notify for when the socket is writable again, which on Linux
   * is when the send queue has drained to two thirds of the buffer (sk_stream_is_writeable).
   */
  private freeze(t: Ns): void {
    const ctx = this.ctx;
    if (!this.freezeOutput) {
      this.freezeOutput = true;
      this.frozenSince = t;
      ctx.counters.freezes++;
      if (ctx.rec.on(LEVEL.tick))
        ctx.rec.event(ctx.migrationSpan, EVENT.freeze, { bufferBytes: this.bufferSize }, t);
    }
    if (this.notifyArmed) return;
    this.notifyArmed = true;
    const socket = ctx.socket;
    const writableAt = socket.timeLevelAtMost((socket.capacity * 2) / 3, t);
    ctx.mainLoop.post((start) => this.putNotify(start), writableAt);
  }

  /**
   * migrate_fd_put_notify: unregister the handler, then put_buffer(NULL, 0): unfreeze and flush, and
   * ("file is ready") if the tick's budget is not spent, run put_ready at once rather than waiting for
   * the next tick. (qemu-spec.md §2.3 leaves this branch out; buffered_file.c of 0.12 has it.)
   */
  private putNotify(t: Ns): Ns {
    this.notifyArmed = false;
    if (this.hasError || this.ctx.state !== 2) return t;
    const wasFrozen = this.freezeOutput;
    this.putBuffer(0, t);
    if (wasFrozen && !this.freezeOutput && this.ctx.rec.on(LEVEL.tick))
      this.ctx.rec.event(
        this.ctx.migrationSpan,
        EVENT.unfreeze,
        { frozenMs: (t - this.frozenSince) / 1e6 },
        t,
      );
    if (this.bytesXfer <= this.xferLimit) return this.putReady(t);
    return t;
  }

  /**
   * buffered_close: flush until the buffer is empty, blocking on the socket when it is full
   * (wait_for_unfreeze); returns the time the last byte was accepted by the socket.
   */
  close(t: Ns): Ns {
    const socket = this.ctx.socket;
    this.freezeOutput = false;
    const total = this.bufferSize;
    this.bufferSize = 0;
    if (total <= 0) return t;
    if (this.ctx.marks.firstByteNs === null) this.ctx.marks.firstByteNs = t;
    // Blocking sends: whatever fits now, then the rest as the queue drains at the link rate.
    const rest = total - socket.offer(total, t);
    if (rest <= 0) return t;
    const when = socket.timeLevelAtMost(socket.capacity - rest, t);
    socket.offer(rest, when);
    return when;
  }
}
