import { describe, expect, it } from 'vitest';
import {
  diffFolded,
  FOLD_DEFAULTS,
  foldedTotal,
  foldStacks,
  parseFolded,
  toFoldedText,
} from '../../reports/folded.ts';
import { spanForest } from '../../reports/span-tree.ts';
import { ATTR, SPAN } from '../../trace/names.ts';
import { sampleRun, span } from './helpers.ts';

const LINE = /^[^;\n]+(;[^;\n]+)* [1-9]\d*$/;

describe('foldStacks', () => {
  it('has the expected defaults', () => {
    expect(FOLD_DEFAULTS.weight).toBe('time');
    expect(FOLD_DEFAULTS.frame({ span: span('x', 0, 1) } as never)).toBe('x');
  });

  it('folds self time in µs, merging equal stacks, sorted', () => {
    const r = span('root', 0, 10);
    const a1 = span('a', 1, 3, r);
    const a2 = span('a', 5, 6, r);
    const b = span('b;odd name', 7, 8, r);
    const stacks = foldStacks(spanForest([r, a1, a2, b]));
    expect(toFoldedText(stacks)).toBe('root 6000\nroot;a 3000\nroot;b:odd name 1000\n');
  });

  it('rounds cumulatively so lines add up to the rounded total', () => {
    const r = span('r', 0, 0.0104);
    const kids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => span(`k${i}`, i * 0.001, i * 0.001 + 0.0006, r));
    const stacks = foldStacks(spanForest([r, ...kids]));
    expect(foldedTotal(stacks)).toBe(10); // 10.4 µs
  });

  it('folds bytes from migscope.bytes', () => {
    const r = span('r', 0, 10, null, { [ATTR.bytes]: 100 });
    const c = span('c', 1, 2, r, { [ATTR.bytes]: 40 });
    expect(toFoldedText(foldStacks(spanForest([r, c]), { weight: 'bytes' }))).toBe('r 60\nr;c 40\n');
  });

  it('writes lines that parse and sum to the trace totals (time and bytes)', () => {
    for (const g of ['tick', 'iteration'] as const) {
      const run = sampleRun(g);
      const f = spanForest(run.trace!.spans);
      const time = toFoldedText(foldStacks(f));
      const bytes = toFoldedText(foldStacks(f, { weight: 'bytes' }));
      for (const l of [...time.trimEnd().split('\n'), ...bytes.trimEnd().split('\n')])
        expect(l).toMatch(LINE);
      const root = run.trace!.spans.find((s) => s.name === SPAN.virshMigrate)!;
      expect(foldedTotal(parseFolded(time))).toBe(Math.round((root.endNs - root.startNs) / 1000));
      expect(foldedTotal(parseFolded(bytes))).toBe(run.result!.bytes.total);
      expect(parseFolded(time).every((s) => s.stack[0] === SPAN.virshMigrate)).toBe(true);
    }
  });

  it('puts the iteration inside its 100 ms window at tick granularity', () => {
    const stacks = foldStacks(spanForest(sampleRun('tick').trace!.spans));
    const names = stacks.map((s) => s.stack.slice(-3).join(';'));
    expect(names).toContain(`${SPAN.window};${SPAN.iteration};${SPAN.ramSave}`);
  });
});

describe('parseFolded and diffFolded', () => {
  it('parses names with spaces and rejects a line without a count', () => {
    expect(parseFolded('a b;c 12\n\n')).toEqual([{ stack: ['a b', 'c'], value: 12 }]);
    expect(() => parseFolded('a;b\n')).toThrow(/line 1/);
  });

  it('writes difffolded "stack A B" lines', () => {
    const a = parseFolded('x 1\nx;y 2\n');
    const b = parseFolded('x;y 5\nx;z 3\n');
    expect(diffFolded(a, b)).toBe('x 1 0\nx;y 2 5\nx;z 0 3\n');
  });
});
