/**
 * Output buffering (Remus, qemu-spec.md §6): packets the guest sends during an epoch leave only when the
 * checkpoint that covers them is acknowledged, so a packet waits at least until the end of its epoch plus
 * that checkpoint's pause, and one sent as an epoch begins waits the whole epoch. Without buffering nothing
 * waits, and a failover leaves the outside world with output the standby knows nothing of.
 */
import { describe, expect, it } from 'vitest';
import { OutputStream } from '../../../models/replication/output-buffer.ts';
import { FREE_HOST, run, scenario } from './helpers.ts';

describe('OutputStream', () => {
  it('releases the packets of an epoch at its ack, each after the epoch ends', () => {
    const out = new OutputStream(7, 5000, true);
    const [R, S, A] = [1e9, 1.2e9, 1.215e9];
    out.run(R, S);
    const produced = [...out.pending];
    expect(produced.length).toBeGreaterThan(800); // 5000/s for 200 ms ≈ 1000
    expect(produced.every((p) => p >= R && p < S)).toBe(true);
    expect(out.release(A)).toBe(produced.length);
    expect(out.pending).toHaveLength(0);
    for (const d of out.delays) {
      expect(d).toBeGreaterThanOrEqual(A - S);
      expect(d).toBeLessThanOrEqual(A - R);
    }
    // The first packet of the epoch waits nearly the whole epoch plus the pause.
    expect(Math.max(...out.delays)).toBeGreaterThan(A - R - 2e6);
  });

  it('without buffering releases at once', () => {
    const out = new OutputStream(7, 5000, false);
    out.run(0, 2e8);
    out.release(2.2e8);
    expect(out.delays.length).toBeGreaterThan(800);
    expect(out.delays.every((d) => d === 0)).toBe(true);
  });

  it('continues its Poisson stream across epochs in guest run time', () => {
    const a = new OutputStream(3, 1000, true);
    a.run(0, 1e9);
    const b = new OutputStream(3, 1000, true);
    b.run(0, 4e8);
    const first = [...b.pending];
    b.release(5e8);
    b.run(5e8, 11e8); // the same 600 ms of run time, 100 ms later
    expect([...first, ...b.pending.map((p) => p - 1e8)]).toEqual(a.pending.map((p) => p));
  });
});

describe('a replication run with and without output buffering', () => {
  const over = { host: FREE_HOST, replication: { epochMs: 100, durationS: 2, outputPacketsPerS: 2000 } };
  const held = run(scenario(over));
  const open = run(scenario({ ...over, replication: { ...over.replication, outputBuffering: false } }));

  it('buffering does not change the guest or the checkpoints', () => {
    expect(held.iterations).toEqual(open.iterations);
    expect(held.replication!.output.packets).toBe(open.replication!.output.packets);
  });

  it('delays every packet by at least its checkpoint pause, and some by the whole epoch', () => {
    const r = held.replication!;
    const d = r.output.releaseDelayMs;
    expect(r.output.packets).toBeGreaterThan(3000); // 2000/s × ~1.8 s of run time
    expect(d.max).toBeGreaterThanOrEqual(100);
    expect(d.max).toBeLessThanOrEqual(100 + r.pauseMs.max);
    expect(d.p50).toBeGreaterThan(r.pauseMs.max);
    // Uniform production over an epoch: mean wait ≈ epoch / 2 + pause.
    expect(d.mean).toBeGreaterThan(50 + r.pauseMs.mean - 5);
    expect(d.mean).toBeLessThan(50 + r.pauseMs.mean + 5);
    expect(open.replication!.output.releaseDelayMs).toEqual({ mean: 0, p50: 0, p99: 0, max: 0 });
  });

  it('on failover, buffered output is dropped, unbuffered output is orphaned', () => {
    const h = held.replication!.failover;
    const o = open.replication!.failover;
    expect(h.orphanPackets.max).toBe(0);
    expect(h.droppedHeldPackets.mean).toBeGreaterThan(10);
    expect(o.droppedHeldPackets.max).toBe(0);
    expect(o.orphanPackets).toEqual(h.droppedHeldPackets);
  });
});

describe('output-triggered checkpoints (Kemari)', () => {
  const over = {
    host: FREE_HOST,
    replication: { trigger: 'output', epochMs: 200, durationS: 1, outputPacketsPerS: 50 },
  };
  const kemari = run(scenario(over));
  const r = kemari.replication!;

  it('checkpoints at each packet, so a packet waits only for its checkpoint', () => {
    // 50 packets/s over ~1 s: about 50 checkpoints, each ending a run phase with its packet.
    expect(r.epochs).toBeGreaterThan(30);
    const timed = kemari.iterations.filter((it) => it.startMs - it.runStartMs === 200);
    for (const it of kemari.iterations.slice(0, -1))
      if (!timed.includes(it)) expect(it.packets).toBeGreaterThanOrEqual(1);
    expect(r.output.releaseDelayMs.max).toBeLessThanOrEqual(r.pauseMs.max + 1e-6);
    expect(r.output.releaseDelayMs.p50).toBeGreaterThanOrEqual(r.pauseMs.mean * 0.5);
  });

  it('waits less than periodic checkpoints with the same mean epoch', () => {
    const meanRunMs = (r.wallTimeMs - r.pauseMs.total) / r.epochs;
    const periodic = run(
      scenario({ ...over, replication: { ...over.replication, trigger: 'periodic', epochMs: meanRunMs } }),
    );
    // Periodic: half an epoch plus the pause on average; output-triggered: the pause alone.
    const d = periodic.replication!.output.releaseDelayMs.mean;
    expect(d).toBeGreaterThan(meanRunMs / 2);
    expect(d).toBeGreaterThan(2 * r.output.releaseDelayMs.mean);
  });
});
