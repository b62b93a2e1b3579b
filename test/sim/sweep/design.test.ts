import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../sim/errors.ts';
import { type Design, gridValues, parseDesign, pointCount, valueAt } from '../../../sim/sweep/design.ts';

const parse = (raw: Record<string, unknown>) => parseDesign(raw, 'sweep.yaml', ['name', 'base']);

function errorOf(raw: Record<string, unknown>): string {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a UsageError');
}

describe('parseDesign', () => {
  it('has the documented defaults: grid, seed 1, 1 repeat, no parameters', () => {
    expect(parse({})).toEqual({ sampler: 'grid', samples: null, seed: 1, repeats: 1, parameters: [] });
  });

  it('reads lists and ranges in the order written', () => {
    const d = parse({
      parameters: {
        'a.b': [1, 2],
        'c.d': { from: 1, to: 256, steps: 9, scale: 'log' },
        'e.f': { from: 30, to: 300, steps: 4 },
      },
    });
    expect(d.parameters.map((p) => p.path)).toEqual(['a.b', 'c.d', 'e.f']);
    expect(d.parameters[1]!.spec).toEqual({
      kind: 'range',
      from: 1,
      to: 256,
      steps: 9,
      scale: 'log',
      integer: false,
    });
    expect(pointCount(d)).toBe(2 * 9 * 4);
  });

  it.each([
    [{ parameters: { 'a.b': [] } }, 'sweep.yaml: parameters.a.b: empty list'],
    [
      { parameters: { 'a.b': { from: 1, to: 2, steps: 0 } } },
      'sweep.yaml: parameters.a.b.steps: must be >= 1 (got 0)',
    ],
    [
      { parameters: { 'a.b': { from: 1, to: 2, steps: 2.5 } } },
      'sweep.yaml: parameters.a.b.steps: expected a whole number',
    ],
    [
      { parameters: { 'a.b': { from: 1, to: 2 } } },
      'sweep.yaml: parameters.a.b.steps: required for sampler grid',
    ],
    [
      { parameters: { 'a.b': { from: 1, to: 2, steps: 1 } } },
      'sweep.yaml: parameters.a.b.steps: 1 step cannot span 1 to 2',
    ],
    [{ parameters: { 'a.b': { to: 2, steps: 2 } } }, 'sweep.yaml: parameters.a.b.from: required in a range'],
    [
      { parameters: { 'a.b': { from: 0, to: 8, steps: 4, scale: 'log' } } },
      'sweep.yaml: parameters.a.b: a log range needs from and to > 0',
    ],
    [
      { parameters: { 'a.b': { from: 1, to: 8, steps: 4, scale: 'cubic' } } },
      'sweep.yaml: parameters.a.b.scale: expected linear or log',
    ],
    [{ parameters: { 'a.b': { from: 1, to: 8, step: 4 } } }, 'sweep.yaml: parameters.a.b.step: unknown key'],
    [
      { parameters: { 'a.b': { from: 1.2, to: 1.8, integer: true } }, sampler: 'random', samples: 3 },
      'sweep.yaml: parameters.a.b: empty range',
    ],
    [
      { parameters: { 'a.b': { from: 5, to: 1, steps: 3 } } },
      'sweep.yaml: parameters.a.b: empty range: from 5 > to 1',
    ],
    [{ parameters: { 'a.b': [1, 2, 1] } }, 'sweep.yaml: parameters.a.b: duplicate value 1'],
    [{ parameters: { 'a.b': 5 } }, 'sweep.yaml: parameters.a.b: expected a list of values or a range'],
    [{ parameters: { 'a..b': [1] } }, 'sweep.yaml: parameters.a..b: expected a dot path'],
    [{ sampler: 'random' }, 'sweep.yaml: samples: required for sampler random'],
    [{ sampler: 'lhs' }, 'sweep.yaml: samples: required for sampler lhs'],
    [{ sampler: 'lhs', samples: 0 }, 'sweep.yaml: samples: must be >= 1 (got 0)'],
    [{ sampler: 'grid', samples: 10 }, 'sweep.yaml: samples: only random and lhs take samples'],
    [
      { sampler: 'sobol', samples: 10 },
      'sweep.yaml: sampler: unknown sampler "sobol" (one of: grid, random, lhs)',
    ],
    [{ repeats: 0 }, 'sweep.yaml: repeats: must be >= 1 (got 0)'],
    [{ seed: -1 }, 'sweep.yaml: seed: must be >= 0 (got -1)'],
    [
      { seeds: 3 },
      'sweep.yaml: seeds: unknown key (known: sampler, samples, seed, repeats, parameters, name, base)',
    ],
    [
      { parameters: { 'a.b': { from: 1, to: 1e4, steps: 1e4 }, 'c.d': { from: 1, to: 1e4, steps: 1e4 } } },
      'sweep.yaml: parameters: 100000000 runs is more than 10000000',
    ],
  ])('rejects %j with one line naming the key', (raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });

  it('lets the caller check each parameter, with the key to name', () => {
    const seen: string[] = [];
    const d = parseDesign(
      { parameters: { 'vm.vcpus': { from: 1, to: 8, steps: 3 } } },
      'f',
      [],
      (path, spec, key) => {
        seen.push(`${path} ${key}`);
        return spec.kind === 'range' ? { ...spec, integer: true } : spec;
      },
    );
    expect(seen).toEqual(['vm.vcpus parameters.vm.vcpus']);
    expect(gridValues(d.parameters[0]!.spec)).toEqual([1, 5, 8]);
  });
});

describe('gridValues and valueAt', () => {
  const range = (o: Partial<Extract<Design['parameters'][number]['spec'], { kind: 'range' }>>) =>
    ({ kind: 'range', from: 1, to: 256, steps: 9, scale: 'log', integer: false, ...o }) as const;

  it('spaces a log range by powers, without float noise', () => {
    expect(gridValues(range({}))).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
  });

  it('spaces a linear range evenly, both ends included', () => {
    expect(gridValues(range({ from: 30, to: 300, steps: 4, scale: 'linear' }))).toEqual([30, 120, 210, 300]);
    expect(gridValues(range({ from: 0.1, to: 0.3, steps: 3, scale: 'linear' }))).toEqual([0.1, 0.2, 0.3]);
  });

  it('gives from alone for one step', () => {
    expect(gridValues(range({ from: 5, to: 5, steps: 1 }))).toEqual([5]);
  });

  it('maps quantiles onto lists and continuous ranges', () => {
    expect(valueAt({ kind: 'list', values: ['a', 'b', 'c'] }, 0.5)).toBe('b');
    expect(valueAt({ kind: 'list', values: ['a', 'b', 'c'] }, 0.999)).toBe('c');
    expect(valueAt(range({ steps: null, scale: 'linear', from: 10, to: 20 }), 0.25)).toBe(12.5);
    expect(valueAt(range({ steps: null, from: 1, to: 100 }), 0.5)).toBe(10);
    expect(valueAt(range({ steps: null, scale: 'linear', from: 1, to: 4, integer: true }), 0.99)).toBe(4);
    expect(valueAt(range({ steps: null, scale: 'linear', from: 1, to: 4, integer: true }), 0)).toBe(1);
  });
});
