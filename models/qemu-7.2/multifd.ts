/**
 * Multifd of 7.2, source side (migration/multifd.c; qemu-spec.md §3.7): the migration thread only queues
 * page offsets; every 128 pages it hands a packet to the next idle channel (round robin from
 * `next_channel`, waiting on `channels_ready` when all are busy); each iteration ends with a SYNC packet
 * per channel and a wait for all of them, a barrier. A channel thread is busy while its blocking sendmsg
 * runs; all channels share the one link (qemu-file.ts).
 */
import { LEVEL } from '../../sim/span-recorder.ts';
import type { Ns } from '../../sim/time.ts';
import { SPAN } from '../../trace/names.ts';
import {
  MULTIFD_INIT_PACKET_BYTES,
  MULTIFD_PACKET_HEADER_BYTES,
  MULTIFD_PACKET_PAGES,
  TARGET_PAGE_SIZE,
} from './constants.ts';
import type { MigrationContext } from './context.ts';
import { channelWrite, SECTION } from './qemu-file.ts';

/** multifd_send_state and the channels' MultiFDSendParams. */
export class MultiFDSendState {
  /** When each channel's thread is idle again (its last sendmsg returned). */
  readonly freeAt: Float64Array;
  nextChannel = 0;
  /** Pages queued in the packet being filled (`pages->num`). */
  pagesNum = 0;
  /** When the channels are connected (socket connect, then their initial packets). */
  connectedNs: Ns = 0;
  initialSent = false;
  packets = 0;
  syncs = 0;
  /** ram_counters.multifd_bytes. */
  bytes = 0;

  constructor(readonly channels: number) {
    this.freeAt = new Float64Array(channels);
  }
}

/** The channels connect and send MultiFDInit_t before their first job (multifd_send_thread). */
function multifdChannelsUp(ctx: MigrationContext, t: Ns): Ns {
  const m = ctx.multifd!;
  if (m.initialSent) return t;
  m.initialSent = true;
  if (m.connectedNs > t) t = m.connectedNs;
  const bytes = m.channels * MULTIFD_INIT_PACKET_BYTES;
  ctx.file.account(bytes, SECTION.ram);
  const done = channelWrite(ctx.link, ctx.sendBuffer, bytes, t);
  m.freeAt.fill(done);
  return t;
}

/**
 * multifd_send_pages (multifd.c): wait for an idle channel, give it the queued pages, and account
 * pages × 4096 + the packet header to the rate limiter and to multifd_bytes. Returns the time after.
 */
export function multifdSendPages(ctx: MigrationContext, t: Ns): Ns {
  const m = ctx.multifd!;
  t = multifdChannelsUp(ctx, t);
  const n = m.channels;
  const free = m.freeAt;
  // qemu_sem_wait(channels_ready): until some channel is idle.
  let earliest = free[0]!;
  for (let i = 1; i < n; i++) if (free[i]! < earliest) earliest = free[i]!;
  if (earliest > t) t = earliest;
  let c = m.nextChannel % n;
  while (free[c]! > t) c = (c + 1) % n;
  m.nextChannel = (c + 1) % n;
  const bytes = m.pagesNum * TARGET_PAGE_SIZE + MULTIFD_PACKET_HEADER_BYTES;
  ctx.file.account(bytes, SECTION.ram);
  ctx.ram.transferred += bytes;
  m.bytes += bytes;
  m.packets++;
  m.pagesNum = 0;
  free[c] = channelWrite(ctx.link, ctx.sendBuffer, bytes, t);
  return t;
}

/** multifd_queue_page (multifd.c): one page offset into the packet; a full packet is sent. */
export function multifdQueuePage(ctx: MigrationContext, t: Ns): Ns {
  const m = ctx.multifd!;
  m.pagesNum++;
  if (m.pagesNum < MULTIFD_PACKET_PAGES) return t;
  return multifdSendPages(ctx, t);
}

/**
 * multifd_send_sync_main (multifd.c): send what is queued, then a SYNC packet on every channel, and wait
 * until every channel has sent it. Without multifd, nothing. Returns the time after the barrier.
 */
export function multifdSendSyncMain(ctx: MigrationContext, t: Ns): Ns {
  const m = ctx.multifd;
  if (!m) return t;
  if (m.pagesNum > 0) t = multifdSendPages(ctx, t);
  t = multifdChannelsUp(ctx, t);
  const start = t;
  const bytes = m.channels * MULTIFD_PACKET_HEADER_BYTES;
  ctx.file.account(bytes, SECTION.ram);
  ctx.ram.transferred += bytes;
  m.bytes += bytes;
  m.syncs++;
  // FIFO link: once these are in the send buffers, every earlier packet of every channel is too.
  const done = channelWrite(ctx.link, ctx.sendBuffer, bytes, t);
  if (done > t) t = done;
  m.freeAt.fill(t);
  ctx.rec.span(SPAN.multifdSync, LEVEL.tick, ctx.migrationSpan, start, t);
  return t;
}
