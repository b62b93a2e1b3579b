/**
 * Spans as a tree with every instant and every byte counted once: the input of folded stacks, speedscope
 * profiles and flame graphs. Real and simulated traces need three repairs for that:
 *
 * 1. A child that runs past its parent (the downtime span ends when the destination runs, after the
 *    migration span) is clipped to the parent.
 * 2. Siblings that contain one another (a 100 ms rate-limit window and the iteration that runs inside it,
 *    both children of qemu.migration) are nested: the contained span becomes a child of the tightest
 *    sibling holding it. Equal intervals nest by `NEST_ORDER`, then by input order.
 * 3. Siblings that still overlap partly are made disjoint: the one with more descendants (more detail to
 *    show) keeps the overlap, on a tie the earlier one; the other is shortened.
 *
 * Bytes (`migscope.bytes`, wire bytes produced inside a span) are allotted top-down: a span's own figure
 * caps its subtree, and children take from it in time order, so bytes that two overlapping spans both
 * claim (e.g. a drain counting bytes the final pass produced) are counted once.
 */
import { ATTR, SPAN } from '../trace/names.ts';
import type { SpanRecord } from './read.ts';

/** One span in the repaired tree. */
export interface SpanNode {
  span: SpanRecord;
  /** Effective interval after clipping and overlap resolution (ns since the trace start). */
  start: number;
  end: number;
  children: SpanNode[];
  /** Time in this span and in none of its children (ns). */
  selfNs: number;
  /** Bytes of the subtree after allotment, and the part no child accounts for. */
  bytes: number;
  selfBytes: number;
}

/** Outer-to-inner order for siblings with identical intervals (names not listed sit in the middle). */
export const NEST_ORDER: readonly string[] = [
  SPAN.window,
  SPAN.setup,
  SPAN.iteration,
  SPAN.pass,
  SPAN.downtime,
  SPAN.complete,
  SPAN.ramSave,
  SPAN.blockSave,
  SPAN.deviceState,
  SPAN.dirtySync,
  SPAN.drain,
  SPAN.qemuMonitorMigrateToHost,
  SPAN.monitorCommand,
];

const MIDDLE = NEST_ORDER.indexOf(SPAN.downtime);

function rank(name: string): number {
  const i = NEST_ORDER.indexOf(name);
  return i < 0 ? MIDDLE + 0.5 : i;
}

interface Work {
  span: SpanRecord;
  index: number;
  kids: Work[];
  s: number;
  e: number;
  size: number;
  node: SpanNode;
}

/** A span's own `migscope.bytes`, or null when it has none (or a nonsense value). */
export function ownBytes(span: SpanRecord): number | null {
  const v = span.attributes[ATTR.bytes];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}

/** Build the repaired span forest (roots in start order). Never throws on odd input. */
export function spanForest(spans: readonly SpanRecord[]): SpanNode[] {
  const works: Work[] = spans.map((span, index) => ({
    span,
    index,
    kids: [],
    s: span.startNs,
    e: Math.max(span.startNs, span.endNs),
    size: 1,
    node: { span, start: 0, end: 0, children: [], selfNs: 0, bytes: 0, selfBytes: 0 },
  }));
  const byId = new Map<string, Work>();
  for (const w of works) if (w.span.spanId && !byId.has(w.span.spanId)) byId.set(w.span.spanId, w);
  const roots: Work[] = [];
  for (const w of works) {
    const p = w.span.parentSpanId ? byId.get(w.span.parentSpanId) : undefined;
    if (p && p !== w) p.kids.push(w);
    else roots.push(w);
  }
  // Spans on a parent cycle are reachable from no root: make the first of each cycle a root.
  const seen = new Set<Work>();
  const mark = (r: Work) => {
    const stack = [r];
    while (stack.length > 0) {
      const w = stack.pop()!;
      if (seen.has(w)) continue;
      seen.add(w);
      for (const k of w.kids) stack.push(k);
    }
  };
  for (const r of roots) mark(r);
  for (const w of works)
    if (!seen.has(w)) {
      const p = w.span.parentSpanId ? byId.get(w.span.parentSpanId) : undefined;
      if (p) p.kids = p.kids.filter((k) => k !== w);
      roots.push(w);
      mark(w);
    }
  computeSizes(roots);
  // Roots stay apart (each is its own thread of time, e.g. source and destination); only children nest.
  roots.sort((a, b) => a.span.startNs - b.span.startNs || a.index - b.index);
  const out: SpanNode[] = [];
  for (const w of roots) {
    out.push(resolve(w));
    allotBytes(w.node, Infinity);
  }
  return out;
}

function computeSizes(roots: Work[]): void {
  // Iterative post-order: traces can be deep enough to worry a recursive walk.
  const order: Work[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const w = stack.pop()!;
    order.push(w);
    for (const k of w.kids) stack.push(k);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const w = order[i]!;
    w.size = 1;
    for (const k of w.kids) w.size += k.size;
  }
}

/**
 * Clip `items` to [lo, hi], nest contained siblings, and make the rest disjoint. Returns the direct
 * children in start order with their effective intervals in `s`/`e`.
 */
function arrange(items: Work[], lo: number, hi: number): Work[] {
  for (const w of items) {
    w.s = Math.min(Math.max(w.span.startNs, lo), hi);
    w.e = Math.min(Math.max(w.span.endNs, w.s), hi);
  }
  const sorted = [...items].sort(
    (a, b) => a.s - b.s || b.e - a.e || rank(a.span.name) - rank(b.span.name) || a.index - b.index,
  );
  // Containment nesting with a stack of open containers.
  const direct: Work[] = [];
  const open: Work[] = [];
  const adopted: [Work, Work][] = [];
  for (const w of sorted) {
    while (open.length > 0 && !(open[open.length - 1]!.e >= w.e)) open.pop();
    const holder = open[open.length - 1];
    if (holder) adopted.push([holder, w]);
    else direct.push(w);
    open.push(w);
  }
  for (let i = adopted.length - 1; i >= 0; i--) {
    const [holder, w] = adopted[i]!;
    holder.kids.push(w);
    holder.size += w.size;
  }
  // Partial overlaps among the direct children.
  const kept: Work[] = [];
  for (const w of direct) {
    for (let k = kept.length - 1; k >= 0; k--) {
      const p = kept[k]!;
      if (p.e <= w.s) break;
      if (w.size > p.size) p.e = Math.max(p.s, w.s);
      else {
        w.s = Math.min(p.e, w.e);
        break;
      }
    }
    kept.push(w);
  }
  return kept;
}

function resolve(w: Work): SpanNode {
  const node = w.node;
  node.start = w.s;
  node.end = w.e;
  const kids = arrange(w.kids, w.s, w.e);
  let covered = 0;
  for (const k of kids) {
    node.children.push(resolve(k));
    covered += k.e - k.s;
  }
  node.selfNs = Math.max(0, w.e - w.s - covered);
  return node;
}

/** Allot bytes top-down within `budget`; returns the subtree's bytes. Children take theirs in time order. */
function allotBytes(node: SpanNode, budget: number): number {
  const own = ownBytes(node.span);
  const cap = Math.min(own ?? Infinity, budget);
  let left = cap;
  let sum = 0;
  for (const c of node.children) {
    const got = allotBytes(c, left);
    left -= got;
    sum += got;
  }
  node.bytes = own === null ? sum : cap;
  node.selfBytes = node.bytes - sum;
  return node.bytes;
}

/** Visit every node depth-first (pre-order) with its ancestors' names, root first. */
export function walk(roots: readonly SpanNode[], visit: (node: SpanNode, depth: number) => void): void {
  const stack: [SpanNode, number][] = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push([roots[i]!, 0]);
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    visit(n, d);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i]!, d + 1]);
  }
}
