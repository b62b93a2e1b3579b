/**
 * Determinism and spans: the same scenario gives byte-identical result.json and trace; the spans nest
 * replication → initial_sync | epoch → run | checkpoint → dirty_sync | checkpoint_send | ack_wait, with
 * names from trace/names.ts and times that match the result.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { ReplicationResult } from '../../../models/replication/index.ts';
import { resultToJson } from '../../../models/result.ts';
import { simulate } from '../../../models/simulate.ts';
import { toOtlpJsonl } from '../../../trace/export/otlp-jsonl.ts';
import { ATTR, EVENT, SPAN } from '../../../trace/names.ts';
import { scenario } from './helpers.ts';

const s = scenario({ workload: { kind: 'zipf', dirtyRateMiBps: 16 }, replication: { durationS: 1 } });

function ms(t: [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

describe('determinism', () => {
  it('the same seed gives byte-identical result.json and trace', () => {
    const a = simulate(s, { granularity: 'tick' });
    const b = simulate(s, { granularity: 'tick' });
    expect(resultToJson(a.result) === resultToJson(b.result)).toBe(true);
    expect(toOtlpJsonl([a.spans]) === toOtlpJsonl([b.spans])).toBe(true);
  });

  it('another seed gives another run', () => {
    const a = simulate(s, { granularity: 'none' }).result;
    const b = simulate({ ...s, seed: 2 }, { granularity: 'none' }).result;
    expect(resultToJson(a)).not.toBe(resultToJson(b));
  });
});

describe('spans', () => {
  const { result, spans } = simulate(s, { granularity: 'tick' });
  const r = result as ReplicationResult;
  const byName = (name: string) => spans.filter((x) => x.name === name);
  const parentOf = (x: ReadableSpan) =>
    spans.find((p) => p.spanContext().spanId === x.parentSpanContext?.spanId);
  const [root] = byName(SPAN.replication);

  it('has one root, the initial synchronisation and one epoch span per iteration', () => {
    expect(byName(SPAN.replication)).toHaveLength(1);
    expect(parentOf(root!)).toBeUndefined();
    const [sync] = byName(SPAN.replicationInitialSync);
    expect(parentOf(sync!)).toBe(root);
    const epochs = byName(SPAN.replicationEpoch);
    expect(epochs).toHaveLength(r.iterations.length);
    for (const e of epochs) expect(parentOf(e)).toBe(root);
    expect(byName(SPAN.pass).every((p) => parentOf(p)?.name === SPAN.replicationInitialSync)).toBe(true);
  });

  it('each epoch has a run and a checkpoint whose length is the pause', () => {
    const epochs = byName(SPAN.replicationEpoch);
    epochs.forEach((e, i) => {
      const kids = spans.filter((x) => parentOf(x) === e);
      expect(kids.map((k) => k.name).sort()).toEqual(
        [SPAN.replicationCheckpoint, SPAN.replicationRun].sort(),
      );
      const cp = kids.find((k) => k.name === SPAN.replicationCheckpoint)!;
      const it = r.iterations[i]!;
      expect(cp.attributes[ATTR.epoch]).toBe(it.index);
      expect(ms(cp.endTime) - ms(cp.startTime)).toBeCloseTo(it.endMs - it.startMs, 3);
      const parts = spans.filter((x) => parentOf(x) === cp).map((x) => x.name);
      expect(parts).toEqual([SPAN.dirtySync, SPAN.replicationCheckpointSend, SPAN.replicationAckWait]);
      expect(cp.events.map((ev) => ev.name)).toEqual([EVENT.stop, EVENT.checkpointAck, EVENT.resume]);
    });
  });

  it('releases the held output once per epoch, at the ack, all packets in total', () => {
    const releases = byName(SPAN.replicationEpoch).flatMap((e) =>
      e.events.filter((ev) => ev.name === EVENT.outputRelease).map((ev) => ({ e, ev })),
    );
    expect(releases).toHaveLength(r.iterations.length);
    let total = 0;
    for (const { e, ev } of releases) {
      expect(ev.time).toEqual(e.endTime);
      total += ev.attributes![ATTR.heldPackets] as number;
    }
    expect(total).toBe(r.replication!.output.packets);
  });

  it('at iteration granularity keeps epochs and checkpoints but not their parts', () => {
    const coarse = simulate(s, { granularity: 'iteration' }).spans.map((x) => x.name);
    expect(coarse).toContain(SPAN.replicationCheckpoint);
    expect(coarse).not.toContain(SPAN.replicationAckWait);
    expect(coarse).not.toContain(SPAN.replicationRun);
  });
});
