import { describe, expect, it } from 'vitest';
import type { SpanRecord } from '../../reports/read.ts';
import { NEST_ORDER, type SpanNode, spanForest, walk } from '../../reports/span-tree.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { sampleRun, span } from './helpers.ts';

const shape = (n: SpanNode): unknown => [n.span.name, n.start / 1e6, n.end / 1e6, n.children.map(shape)];

function totals(roots: SpanNode[]) {
  let self = 0;
  let selfBytes = 0;
  walk(roots, (n) => {
    self += n.selfNs;
    selfBytes += n.selfBytes;
    expect(n.selfNs).toBeGreaterThanOrEqual(0);
    expect(n.selfBytes).toBeGreaterThanOrEqual(0);
    let prevEnd = n.start;
    for (const c of n.children) {
      expect(c.start).toBeGreaterThanOrEqual(prevEnd);
      expect(c.end).toBeLessThanOrEqual(n.end);
      prevEnd = c.end;
    }
  });
  return { self, selfBytes };
}

describe('spanForest', () => {
  it('clips a child that runs past its parent (the downtime span ends after the migration)', () => {
    const m = span(SPAN.migration, 0, 100);
    const d = span(SPAN.downtime, 90, 140, m);
    const late = span('late', 150, 160, m);
    const f = spanForest([m, d, late]);
    expect(f.map(shape)).toEqual([
      [
        SPAN.migration,
        0,
        100,
        // a span clipped to nothing at the end is held by the sibling ending there
        [[SPAN.downtime, 90, 100, [['late', 100, 100, []]]]],
      ],
    ]);
    expect(f[0]!.selfNs).toBe(90e6);
  });

  it('nests a sibling inside the sibling that contains it: window > iteration > ram.save', () => {
    const m = span(SPAN.migration, 0, 300);
    const spans: SpanRecord[] = [m];
    for (let k = 0; k < 3; k++) {
      const t = k * 100;
      // same order as the simulator emits them: ram.save and iteration end before their window
      const rs = span(SPAN.ramSave, t, t + 4, m, { [ATTR.bytes]: 1000 });
      spans.push(rs, span(SPAN.dirtySync, t, t + 2, rs));
      spans.push(span(SPAN.iteration, t, t + 4, m, { [ATTR.bytes]: 1010 }));
      spans.push(span(SPAN.window, t, t + 100, m, { [ATTR.bytes]: 1010 }));
    }
    const [root] = spanForest(spans);
    expect(root!.children.map((c) => c.span.name)).toEqual([SPAN.window, SPAN.window, SPAN.window]);
    const w = root!.children[0]!;
    expect(shape(w)).toEqual([
      SPAN.window,
      0,
      100,
      [[SPAN.iteration, 0, 4, [[SPAN.ramSave, 0, 4, [[SPAN.dirtySync, 0, 2, []]]]]]],
    ]);
    expect(w.bytes).toBe(1010);
    expect(w.children[0]!.selfBytes).toBe(10);
    expect(NEST_ORDER.indexOf(SPAN.window)).toBeLessThan(NEST_ORDER.indexOf(SPAN.iteration));
  });

  it('gives a partial overlap to the sibling with more detail, then to the earlier one', () => {
    const p = span('p', 0, 100);
    const wait = span('libvirtd.wait', 10, 90, p);
    const mig = span(SPAN.migration, 9, 89, p);
    const kid = span(SPAN.iteration, 20, 30, mig);
    const a = span('a', 91, 96, p);
    const b = span('b', 93, 99, p);
    const [root] = spanForest([p, wait, mig, kid, a, b]);
    expect(root!.children.map((c) => [c.span.name, c.start / 1e6, c.end / 1e6])).toEqual([
      [SPAN.migration, 9, 89],
      ['libvirtd.wait', 89, 90],
      ['a', 91, 96],
      ['b', 96, 99],
    ]);
    const t = totals([root!]);
    expect(t.self).toBe(100e6);
  });

  it('makes orphans and spans on a parent cycle roots, and never throws', () => {
    const a = span('a', 0, 10);
    const b = span('b', 1, 5, a);
    a.parentSpanId = b.spanId; // cycle
    const orphan = { ...span('orphan', 2, 3), parentSpanId: 'ffffffffffffffff' };
    const self = span('self', 4, 6);
    self.parentSpanId = self.spanId;
    const f = spanForest([a, b, orphan, self]);
    expect(f.map((n) => n.span.name).sort()).toEqual(['a', 'orphan', 'self']);
    expect(spanForest([])).toEqual([]);
  });

  it('counts bytes that overlapping spans both claim once (a drain after the final pass)', () => {
    const m = span(SPAN.migration, 0, 100, null, { [ATTR.bytes]: 500 });
    const it = span(SPAN.iteration, 0, 10, m, { [ATTR.bytes]: 300 });
    const dt = span(SPAN.downtime, 10, 120, m);
    const c = span(SPAN.complete, 10, 20, dt, { [ATTR.bytes]: 200 });
    const dr = span(SPAN.drain, 20, 100, dt, { [ATTR.bytes]: 150.5 });
    const [root] = spanForest([m, it, dt, c, dr]);
    expect(root!.bytes).toBe(500);
    expect(totals([root!]).selfBytes).toBe(500);
    const dtNode = root!.children[1]!;
    expect(dtNode.children.map((n) => n.bytes)).toEqual([200, 0]);
  });

  it('keeps its invariants on random trees with overlaps, overruns, orphans and odd bytes', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 200; round++) {
      const spans: SpanRecord[] = [];
      const n = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < n; i++) {
        const parent = spans.length > 0 && rnd() < 0.85 ? spans[Math.floor(rnd() * spans.length)]! : null;
        const a = Math.floor(rnd() * 100);
        const b = a + Math.floor(rnd() * 60) - 5; // sometimes ends before it starts
        const attrs: Record<string, number> =
          rnd() < 0.5 ? { [ATTR.bytes]: rnd() < 0.1 ? -3 : Math.floor(rnd() * 1000) } : {};
        const s = span(rnd() < 0.3 ? SPAN.window : `s${i % 5}`, a, b, parent, attrs);
        if (rnd() < 0.05) s.parentSpanId = 'deadbeefdeadbeef';
        spans.push(s);
      }
      const f = spanForest(spans);
      let nodes = 0;
      walk(f, () => nodes++);
      expect(nodes).toBe(n);
      const t = totals(f);
      expect(t.self).toBe(f.reduce((x, r) => x + (r.end - r.start), 0));
      expect(t.selfBytes).toBeCloseTo(
        f.reduce((x, r) => x + r.bytes, 0),
        6,
      );
    }
  });

  it('conserves time and bytes on a simulated 0.12.3 trace with libvirt spans', () => {
    for (const g of ['tick', 'iteration'] as const) {
      const run = sampleRun(g);
      const f = spanForest(run.trace!.spans);
      expect(f.map((r) => r.span.name)).toEqual([SPAN.virshMigrate]);
      const t = totals(f);
      const root = run.trace!.spans.find((s) => s.name === SPAN.virshMigrate)!;
      expect(t.self).toBe(root.endNs - root.startNs);
      expect(t.selfBytes).toBe(run.result!.bytes.total);
    }
  });
});
