import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, deriveSeed } from '../../../sim/sweep/hash.ts';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('rejects what JSON cannot hold, naming where', () => {
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow('$.a[1] is NaN');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('$.f is a function');
  });
});

describe('contentHash', () => {
  it('is the sha256 of the canonical JSON, whatever the key order', () => {
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    // sha256('{"a":1}')
    expect(contentHash({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 1.0000001 }));
  });
});

describe('deriveSeed', () => {
  it('is a stable uint32 that depends on every part', () => {
    const s = deriveSeed(1, { x: 2 }, 0);
    expect(s).toBe(deriveSeed(1, { x: 2 }, 0));
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(
      new Set([s, deriveSeed(2, { x: 2 }, 0), deriveSeed(1, { x: 3 }, 0), deriveSeed(1, { x: 2 }, 1)]).size,
    ).toBe(4);
  });
});
