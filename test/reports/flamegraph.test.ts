import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  diffColour,
  diffFlamegraph,
  FLAMEGRAPH_DEFAULTS,
  fitLabel,
  flamegraph,
  frameColour,
} from '../../reports/flamegraph.ts';
import { foldStacks, parseFolded } from '../../reports/folded.ts';
import { spanForest } from '../../reports/span-tree.ts';
import { sampleRun } from './helpers.ts';

interface Rect {
  stack: string;
  x: number;
  width: number;
  depth: number;
  value: number[];
  title: string;
  label: string | null;
}

/** The frames of a rendered flame graph, read back from the SVG. */
function frames(svg: string): Rect[] {
  const out: Rect[] = [];
  const re =
    /<g class="frame" data-stack="([^"]*)" data-value="([^"]*)" data-depth="(\d+)"><title>([^<]*)<\/title><rect x="([-\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><\/rect>(?:<text[^>]*>([^<]*)<\/text>)?<\/g>/g;
  for (const m of svg.matchAll(re))
    out.push({
      stack: m[1]!,
      value: m[2]!.split(' ').map(Number),
      depth: Number(m[3]),
      title: m[4]!,
      x: Number(m[5]),
      width: Number(m[6]),
      label: m[7] ?? null,
    });
  return out;
}

/** Every stack prefix of folded input: the frames a flame graph must draw (plus the root ""). */
function prefixes(text: string): Set<string> {
  const s = new Set<string>(['']);
  for (const f of parseFolded(text))
    for (let i = 1; i <= f.stack.length; i++) s.add(f.stack.slice(0, i).join(';'));
  return s;
}

/** Children lie inside their parent and add up to at most its width. */
function checkNesting(rs: Rect[]): void {
  const by = new Map(rs.map((r) => [r.stack, r]));
  const kids = new Map<string, number>();
  for (const r of rs) {
    if (r.stack === '') continue;
    const parentKey = r.stack.includes(';') ? r.stack.slice(0, r.stack.lastIndexOf(';')) : '';
    const p = by.get(parentKey)!;
    expect(p, r.stack).toBeDefined();
    expect(r.depth).toBe(p.depth + 1);
    expect(r.x).toBeGreaterThanOrEqual(p.x - 0.01);
    expect(r.x + r.width).toBeLessThanOrEqual(p.x + p.width + 0.02);
    kids.set(parentKey, (kids.get(parentKey) ?? 0) + r.width);
  }
  for (const [k, w] of kids) expect(w).toBeLessThanOrEqual(by.get(k)!.width + 0.05);
}

const SMALL = 'a;b 30\na;c 10\na 20\nd 40\n';

describe('flamegraph', () => {
  it('has the expected defaults', () => {
    expect(FLAMEGRAPH_DEFAULTS).toMatchObject({
      weight: 'time',
      width: 1200,
      frameHeight: 18,
      rootName: 'all',
      labels: ['A', 'B'],
    });
  });

  it('draws one rect per frame, children within their parent, widths proportional to weight', () => {
    const rs = frames(flamegraph(parseFolded(SMALL), { width: 1000 }));
    expect(new Set(rs.map((r) => r.stack))).toEqual(prefixes(SMALL));
    expect(rs).toHaveLength(prefixes(SMALL).size);
    checkNesting(rs);
    const w = Object.fromEntries(rs.map((r) => [r.stack, r.width]));
    expect(w).toEqual({ '': 1000, a: 600, 'a;b': 300, 'a;c': 100, d: 400 });
    expect(rs.find((r) => r.stack === 'a')!.title).toBe('a\n60 µs (60.00%), self 20 µs');
  });

  it('matches the golden SVG (numbers rounded to 3 decimals)', () => {
    const round = (s: string) => s.replace(/-?\d+\.\d+/g, (n) => String(Math.round(Number(n) * 1000) / 1000));
    const file = new URL('golden/flame-small.svg', import.meta.url);
    const svg = flamegraph(parseFolded(SMALL), { width: 1000, title: 'small' });
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, `${svg}\n`); // UPDATE_GOLDEN=1 npx vitest run test/reports
    expect(round(svg)).toBe(round(readFileSync(file, 'utf8').trimEnd()));
  });

  it('is deterministic', () => {
    const run = sampleRun('tick');
    const stacks = foldStacks(spanForest(run.trace!.spans));
    const once = flamegraph(stacks);
    for (let i = 0; i < 5; i++) expect(flamegraph(stacks)).toBe(once);
  });

  it('draws a simulated trace by time and by bytes with readable labels', () => {
    const run = sampleRun('tick');
    const f = spanForest(run.trace!.spans);
    for (const weight of ['time', 'bytes'] as const) {
      const stacks = foldStacks(f, { weight });
      const text = stacks.map((s) => `${s.stack.join(';')} ${s.value}`).join('\n');
      const rs = frames(flamegraph(stacks, { weight }));
      expect(rs).toHaveLength(prefixes(text).size);
      checkNesting(rs);
      for (const r of rs) {
        if (r.label === null) continue;
        expect(r.label.length * FLAMEGRAPH_DEFAULTS.fontSize * 0.61).toBeLessThanOrEqual(r.width);
        const name = r.stack.split(';').pop() || 'all';
        expect(name.startsWith(r.label.replace(/…$/, ''))).toBe(true);
      }
      expect(rs[0]!.width).toBe(1200);
    }
  });

  it('escapes names and colours layers apart', () => {
    const svg = flamegraph(parseFolded('x<y>&"z 5\n'));
    expect(svg).toContain('x&lt;y&gt;&amp;');
    expect(frameColour('libvirtd.doNativeMigrate')).not.toBe(frameColour('qemu.migration'));
    expect(frameColour('qemu.migration')).toBe(frameColour('qemu.migration'));
    expect(fitLabel('qemu.migration.window', 60, 11)).toMatch(/^qemu\.\w*…$/);
    expect(fitLabel('qemu', 10, 11)).toBe('');
  });
});

describe('diffFlamegraph', () => {
  it('keeps frames found in one profile only visible and colours by B − A', () => {
    const a = parseFolded('m;x 10\nm;gone 5\n');
    const b = parseFolded('m;x 30\nm;new 5\n');
    const rs = frames(diffFlamegraph(a, b, { width: 1000, labels: ['sim', 'real'] }));
    const by = Object.fromEntries(rs.map((r) => [r.stack, r]));
    expect(Object.keys(by).sort()).toEqual(['', 'm', 'm;gone', 'm;new', 'm;x']);
    expect(by['m;gone']!.width).toBeGreaterThan(0);
    expect(by['m;new']!.width).toBeGreaterThan(0);
    checkNesting(rs);
    expect(by['m;x']!.value).toEqual([10, 30]);
    expect(by['m;x']!.title).toContain('sim: 10 µs  real: 30 µs');
    expect(by['m;x']!.title).toContain('+20 µs (+200%)');
    expect(by['m;gone']!.title).toContain('-5 µs (-100%)');
    // colour follows the change in a frame's own weight: m has none of its own, so it stays grey
    const svg = diffFlamegraph(a, b, { width: 1000 });
    const fillOf = (stack: string) =>
      svg.match(new RegExp(`data-stack="${stack}"[^>]*><title>[^<]*</title><rect [^>]*fill="([^"]+)"`))?.[1];
    expect(fillOf('m')).toBe(diffColour(0));
    expect(fillOf('m;x')).toBe(diffColour(1));
    expect(fillOf('m;gone')).toBe(diffColour(-0.25));
    expect(diffColour(1)).toMatch(/^rgb\(235,/);
    expect(diffColour(-1)).toMatch(/^rgb\(60,/);
    expect(diffColour(0)).toBe('rgb(232,232,232)');
  });
});
