/**
 * Flame graphs as SVG, drawn with d3-node and laid out by d3-hierarchy's `partition` (the icicle layout):
 * `flamegraph(stacks, options)` for one profile, `diffFlamegraph(a, b, options)` for two (Gregg's
 * differential flame graph: red where B has more than A, blue where it has less).
 *
 * The root is at the top (icicle) and children are sorted by name, so two graphs of the same scenario line
 * up. Every frame is one `<g class="frame">` holding a `<title>` (the hover text), a `<rect>` and, where it
 * fits, a `<text>` label; `data-stack` and `data-value` carry the frame's path and weight.
 */
import { hierarchy, partition } from 'd3-hierarchy';
import { D3Node, type D3Selection } from 'd3-node';
import type { FoldedStack, Weight } from './folded.ts';
import { fmtPct, fmtWeight, hash32 } from './format.ts';

/** Options of `flamegraph` and `diffFlamegraph`. */
export interface FlamegraphOptions {
  /** Heading drawn above the graph. */
  title?: string;
  /** Time (values in µs) or bytes; it sets the units of the hover text. */
  weight?: Weight;
  /** SVG width in px. */
  width?: number;
  /** Height of one frame in px. */
  frameHeight?: number;
  fontSize?: number;
  /** Frames narrower than this (px) get no label. */
  minLabelWidth?: number;
  /** Name of the root frame. */
  rootName?: string;
  /** For `diffFlamegraph`: the names of the two profiles. */
  labels?: [string, string];
  /** The `id` attribute of the `<svg>` (pages embed several graphs). */
  id?: string;
}

/** Defaults of `flamegraph` and `diffFlamegraph`. */
export const FLAMEGRAPH_DEFAULTS: Required<FlamegraphOptions> = {
  title: 'Flame graph',
  weight: 'time',
  width: 1200,
  frameHeight: 18,
  fontSize: 11,
  minLabelWidth: 28,
  rootName: 'all',
  labels: ['A', 'B'],
  id: 'flamegraph',
};

const FONT = "'DejaVu Sans Mono', Menlo, Consolas, monospace";
/** Advance of one monospace character, as a fraction of the font size. */
const CHAR_W = 0.61;
const HEADER = 44;
const FOOTER = 8;

/** A frame of the merged tree: self weights per profile. */
interface Frame {
  name: string;
  self: number[];
  children: Frame[];
  index: Map<string, Frame>;
}

function buildTree(profiles: readonly (readonly FoldedStack[])[], rootName: string): Frame {
  const n = profiles.length;
  const mk = (name: string): Frame => ({ name, self: new Array(n).fill(0), children: [], index: new Map() });
  const root = mk(rootName);
  profiles.forEach((stacks, p) => {
    for (const s of stacks) {
      let node = root;
      for (const name of s.stack) {
        let c = node.index.get(name);
        if (!c) {
          c = mk(name);
          node.index.set(name, c);
          node.children.push(c);
        }
        node = c;
      }
      node.self[p]! += s.value;
    }
  });
  return root;
}

/**
 * The colour of a frame in a single-profile graph: a hue per layer of the stack (libvirt client purple,
 * libvirtd blue, monitor teal, QEMU migration warm, RAM yellow, block green), varied by name.
 */
export function frameColour(name: string): string {
  const h = hash32(name);
  const j = (h % 1000) / 1000;
  let hue: number;
  let sat = 62;
  if (name === 'all') return 'hsl(0, 0%, 82%)';
  if (name.startsWith('virsh.') || name.startsWith('libvirt.')) hue = 262 + 22 * j;
  else if (name.startsWith('libvirtd.')) hue = 205 + 20 * j;
  else if (name.startsWith('monitor.')) hue = 172 + 12 * j;
  else if (name.startsWith('qemu.ram.')) hue = 46 + 8 * j;
  else if (name.startsWith('qemu.block.')) hue = 95 + 30 * j;
  else if (name.startsWith('qemu.incoming')) hue = 25 + 8 * j;
  else if (name.startsWith('qemu.')) hue = 4 + 32 * j;
  else {
    hue = 60 + 60 * j;
    sat = 20;
  }
  const light = 62 + 10 * (((h >>> 10) % 1000) / 1000);
  return `hsl(${hue.toFixed(0)}, ${sat}%, ${light.toFixed(0)}%)`;
}

/** Diverging colour for a differential frame: t in [-1, 1], blue (less in B) through grey to red (more in B). */
export function diffColour(t: number): string {
  const c = Math.max(-1, Math.min(1, t));
  const [r, g, b] = c >= 0 ? [235, 60, 50] : [60, 110, 235];
  const mix = (v: number) => Math.round(232 + (v - 232) * Math.abs(c));
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

/** Truncate a label to fit `px` pixels at `fontSize`, with an ellipsis; '' when nothing fits. */
export function fitLabel(label: string, px: number, fontSize: number): string {
  const n = Math.floor((px - 6) / (fontSize * CHAR_W));
  if (n >= label.length) return label;
  if (n < 3) return '';
  return `${label.slice(0, n - 1)}…`;
}

interface Drawn {
  frame: Frame;
  stack: string[];
  x0: number;
  x1: number;
  depth: number;
  /** Total per profile. */
  totals: number[];
  /** Self per profile. */
  selfs: number[];
}

function layout(root: Frame, value: (f: Frame) => number, width: number): { drawn: Drawn[]; rows: number } {
  const h = hierarchy(root, (f) => f.children)
    .sum(value)
    .sort((a, b) => (a.data.name < b.data.name ? -1 : a.data.name > b.data.name ? 1 : 0));
  const rows = h.height + 1;
  partition<Frame>().size([width, rows]).round(false)(h);
  const n = root.self.length;
  const drawn: Drawn[] = [];
  const totals = new Map<Frame, number[]>();
  h.eachAfter((node) => {
    const t = [...node.data.self];
    for (const c of node.children ?? []) {
      const ct = totals.get(c.data)!;
      for (let i = 0; i < n; i++) t[i]! += ct[i]!;
    }
    totals.set(node.data, t);
  });
  h.each((node) => {
    const p = node as typeof node & { x0: number; x1: number };
    drawn.push({
      frame: node.data,
      stack: node
        .ancestors()
        .reverse()
        .slice(1)
        .map((a) => a.data.name),
      x0: p.x0,
      x1: p.x1,
      depth: node.depth,
      totals: totals.get(node.data)!,
      selfs: node.data.self,
    });
  });
  return { drawn, rows };
}

function header(svg: D3Selection, o: Required<FlamegraphOptions>, subtitle: string): void {
  svg
    .append('text')
    .attr('x', o.width / 2)
    .attr('y', 18)
    .attr('text-anchor', 'middle')
    .attr('font-size', 15)
    .attr('font-weight', 'bold')
    .attr('font-family', 'sans-serif')
    .text(o.title);
  svg
    .append('text')
    .attr('x', o.width / 2)
    .attr('y', 35)
    .attr('text-anchor', 'middle')
    .attr('font-size', 11)
    .attr('fill', '#555')
    .attr('font-family', 'sans-serif')
    .text(subtitle);
}

function drawFrames(
  svg: D3Selection,
  drawn: Drawn[],
  o: Required<FlamegraphOptions>,
  fill: (d: Drawn) => string,
  tip: (d: Drawn) => string,
): void {
  const g = svg.append('g').attr('class', 'frames').attr('font-family', FONT).attr('font-size', o.fontSize);
  for (const d of drawn) {
    const x = d.x0;
    const w = Math.max(0, d.x1 - d.x0);
    const y = HEADER + d.depth * o.frameHeight;
    const f = g
      .append('g')
      .attr('class', 'frame')
      .attr('data-stack', d.stack.join(';'))
      .attr('data-value', d.totals.join(' '))
      .attr('data-depth', d.depth);
    f.append('title').text(tip(d));
    f.append('rect')
      .attr('x', round(x))
      .attr('y', y)
      .attr('width', round(w))
      .attr('height', o.frameHeight - 1)
      .attr('rx', 2)
      .attr('fill', fill(d))
      .attr('stroke', '#fff')
      .attr('stroke-width', 0.6);
    const label = w >= o.minLabelWidth ? fitLabel(d.frame.name, w, o.fontSize) : '';
    if (label)
      f.append('text')
        .attr('x', round(x + 3))
        .attr('y', y + o.frameHeight / 2 + o.fontSize * 0.35)
        .attr('fill', '#111')
        .text(label);
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : '0%';
}

/** A flame graph of one profile's folded stacks, as an SVG string. */
export function flamegraph(stacks: readonly FoldedStack[], options: FlamegraphOptions = {}): string {
  const o = { ...FLAMEGRAPH_DEFAULTS, ...options };
  const root = buildTree([stacks], o.rootName);
  const { drawn, rows } = layout(root, (f) => f.self[0]!, o.width);
  const total = drawn[0]?.totals[0] ?? 0;
  const height = HEADER + rows * o.frameHeight + FOOTER;
  const dn = new D3Node();
  const svg = dn.createSVG(o.width, height, {
    viewBox: `0 0 ${o.width} ${height}`,
    id: o.id,
    class: 'flamegraph',
    role: 'img',
    'aria-label': o.title,
  });
  const unit = o.weight === 'time' ? 'time' : 'bytes';
  header(svg, o, `width = ${unit} (total ${fmtWeight(total, o.weight)}); hover a frame for details`);
  drawFrames(
    svg,
    drawn,
    o,
    (d) => frameColour(d.frame.name),
    (d) =>
      `${d.stack.join(' > ') || o.rootName}\n${fmtWeight(d.totals[0]!, o.weight)} (${pct(d.totals[0]!, total)})` +
      (d.selfs[0]! > 0 && d.frame.children.length > 0 ? `, self ${fmtWeight(d.selfs[0]!, o.weight)}` : ''),
  );
  return dn.svgString();
}

/**
 * A differential flame graph of profiles A and B. A frame is as wide as the larger of its two weights
 * (so frames present in only one profile stay visible) and coloured by B − A of its self weight: red
 * where B is larger, blue where it is smaller, grey where they agree.
 */
export function diffFlamegraph(
  a: readonly FoldedStack[],
  b: readonly FoldedStack[],
  options: FlamegraphOptions = {},
): string {
  const o = { ...FLAMEGRAPH_DEFAULTS, title: 'Differential flame graph', ...options };
  const root = buildTree([a, b], o.rootName);
  const { drawn, rows } = layout(root, (f) => Math.max(f.self[0]!, f.self[1]!), o.width);
  // Colour by the change in a frame's own weight, so the colour marks where a difference arises rather
  // than painting every ancestor of it; the hover text gives the inclusive figures.
  let maxDelta = 0;
  for (const d of drawn) maxDelta = Math.max(maxDelta, Math.abs(d.selfs[1]! - d.selfs[0]!));
  const height = HEADER + rows * o.frameHeight + FOOTER;
  const dn = new D3Node();
  const svg = dn.createSVG(o.width, height, {
    viewBox: `0 0 ${o.width} ${height}`,
    id: o.id,
    class: 'flamegraph diff',
    role: 'img',
    'aria-label': o.title,
  });
  const [la, lb] = o.labels;
  const ta = drawn[0]?.totals[0] ?? 0;
  const tb = drawn[0]?.totals[1] ?? 0;
  header(
    svg,
    o,
    `width = larger of ${la} (${fmtWeight(ta, o.weight)}) and ${lb} (${fmtWeight(tb, o.weight)}); red: more in ${lb}, blue: less in ${lb}`,
  );
  const legend = svg
    .append('g')
    .attr('class', 'legend')
    .attr('font-family', 'sans-serif')
    .attr('font-size', 11);
  [
    [-1, 'B < A'],
    [0, 'B = A'],
    [1, 'B > A'],
  ].forEach(([t, text], i) => {
    const x = o.width - 250 + i * 80;
    legend
      .append('rect')
      .attr('x', x)
      .attr('y', 6)
      .attr('width', 14)
      .attr('height', 11)
      .attr('fill', diffColour(t as number));
    legend
      .append('text')
      .attr('x', x + 18)
      .attr('y', 15)
      .text(text as string);
  });
  drawFrames(
    svg,
    drawn,
    o,
    (d) => (maxDelta > 0 ? diffColour((d.selfs[1]! - d.selfs[0]!) / maxDelta) : diffColour(0)),
    (d) => {
      const [va, vb] = [d.totals[0]!, d.totals[1]!];
      const delta = vb - va;
      const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
      const ds = d.selfs[1]! - d.selfs[0]!;
      return (
        `${d.stack.join(' > ') || o.rootName}\n${la}: ${fmtWeight(va, o.weight)}  ${lb}: ${fmtWeight(vb, o.weight)}\n` +
        `${lb} - ${la}: ${sign}${fmtWeight(Math.abs(delta), o.weight)} (${va > 0 ? fmtPct((100 * delta) / va) : 'new'})` +
        (ds !== 0 && d.frame.children.length > 0
          ? `, self ${ds > 0 ? '+' : '-'}${fmtWeight(Math.abs(ds), o.weight)}`
          : '')
      );
    },
  );
  return dn.svgString();
}
