/**
 * Content hashing of runs: a run is a pure function of its fully resolved input, so the sha256 of the
 * input's canonical JSON names its result, and a rerun computes only the keys a store lacks.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and no whitespace; rejects values JSON cannot round-trip. */
export function canonicalJson(value: unknown): string {
  return canon(value, '$');
}

function canon(v: unknown, at: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: ${at} is ${v}, which JSON cannot hold`);
      return JSON.stringify(v);
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x, i) => canon(x, `${at}[${i}]`)).join(',')}]`;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(o[k], `${at}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: ${at} is a ${typeof v}, which JSON cannot hold`);
  }
}

/** sha256 (hex) of the canonical JSON of `value`: the key of a run in a store. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * A 32-bit seed derived from `parts` (sweep seed, point values, repeat): depends on what the run is, not on
 * its position in the expansion, so editing a sweep keeps the seeds, and keys, of the runs it already had.
 */
export function deriveSeed(...parts: unknown[]): number {
  return createHash('sha256').update(canonicalJson(parts)).digest().readUInt32BE(0);
}
