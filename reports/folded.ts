/**
 * Folded stacks (Brendan Gregg's `frame1;frame2;frame3 COUNT`, the input of flamegraph.pl, speedscope
 * and our own flame graphs), weighted by self time in microseconds or by wire bytes.
 */
import type { SpanNode } from './span-tree.ts';

/** One folded line: the stack from the root down, and its weight. */
export interface FoldedStack {
  stack: string[];
  value: number;
}

/** What a flame graph's widths measure. */
export type Weight = 'time' | 'bytes';

/** Options of `foldStacks`. */
export interface FoldOptions {
  /** Self time in µs ('time', the default) or self bytes ('bytes'). */
  weight?: Weight;
  /** The frame name of a node; default the span name. */
  frame?: (node: SpanNode) => string;
}

/** Defaults of `foldStacks`. */
export const FOLD_DEFAULTS: Required<FoldOptions> = {
  weight: 'time',
  frame: (node) => node.span.name,
};

/** A frame name made safe for the folded format (no `;`, no line breaks). */
export function cleanFrame(name: string): string {
  const s = name.replace(/;/g, ':').replace(/\s+/g, ' ').trim();
  return s === '' ? '(unnamed)' : s;
}

/**
 * Fold a span forest into stacks, merging equal stacks, sorted by stack. Values are integers (µs or
 * bytes), rounded cumulatively so that they add up to the rounded total exactly; zero lines are dropped.
 */
export function foldStacks(roots: readonly SpanNode[], options: FoldOptions = {}): FoldedStack[] {
  const weight = options.weight ?? FOLD_DEFAULTS.weight;
  const frame = options.frame ?? FOLD_DEFAULTS.frame;
  const sums = new Map<string, number>();
  const path: string[] = [];
  const visit = (n: SpanNode, depth: number) => {
    path.length = depth;
    path.push(cleanFrame(frame(n)));
    const v = weight === 'time' ? n.selfNs : n.selfBytes;
    if (v > 0) {
      const key = path.join(';');
      sums.set(key, (sums.get(key) ?? 0) + v);
    }
    for (const c of n.children) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  const keys = [...sums.keys()].sort();
  const scale = weight === 'time' ? 1e-3 : 1;
  const out: FoldedStack[] = [];
  let cum = 0;
  let emitted = 0;
  for (const k of keys) {
    cum += sums.get(k)!;
    const value = Math.round(cum * scale) - emitted;
    emitted += value;
    if (value > 0) out.push({ stack: k.split(';'), value });
  }
  return out;
}

/** The folded text: one `a;b;c COUNT` line per stack, newline-terminated. */
export function toFoldedText(stacks: readonly FoldedStack[]): string {
  return stacks.map((s) => `${s.stack.join(';')} ${s.value}\n`).join('');
}

/** Parse folded text (the count follows the last space); blank lines are skipped. */
export function parseFolded(text: string): FoldedStack[] {
  const out: FoldedStack[] = [];
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (l === '') return;
    const sp = l.lastIndexOf(' ');
    const value = Number(l.slice(sp + 1));
    if (sp <= 0 || !Number.isFinite(value)) throw new SyntaxError(`folded line ${i + 1}: no count in "${l}"`);
    out.push({ stack: l.slice(0, sp).split(';'), value });
  });
  return out;
}

/** The sum of all stacks' values. */
export function foldedTotal(stacks: readonly FoldedStack[]): number {
  let t = 0;
  for (const s of stacks) t += s.value;
  return t;
}

/** Two profiles' stacks side by side (difffolded.pl's `stack A B` lines), sorted by stack. */
export function diffFolded(a: readonly FoldedStack[], b: readonly FoldedStack[]): string {
  const m = new Map<string, [number, number]>();
  for (const s of a) {
    const k = s.stack.join(';');
    const e = m.get(k) ?? [0, 0];
    e[0] += s.value;
    m.set(k, e);
  }
  for (const s of b) {
    const k = s.stack.join(';');
    const e = m.get(k) ?? [0, 0];
    e[1] += s.value;
    m.set(k, e);
  }
  return [...m.keys()]
    .sort()
    .map((k) => `${k} ${m.get(k)![0]} ${m.get(k)![1]}\n`)
    .join('');
}
