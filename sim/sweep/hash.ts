/**
 * Content hashing of runs: a run is a pure function of its fully resolved input, so the sha256 of the
 * input's canonical JSON names its result, and a rerun computes only the keys a store lacks.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and no whitespace; rejects values JSON cannot round-trip. */
export function canonicalJson(value: unknown): string {
  const out = canon(value);
  if (out === null) throw new TypeError(`canonicalJson: ${whereBad(value, '$')}, which JSON cannot hold`);
  return out;
}

// The hot path (one call per run and per seed): no path strings; null means "cannot hold", and
// `whereBad` then walks again to name the spot.
function canon(v: unknown): string | null {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : null;
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      let s: string;
      if (Array.isArray(v)) {
        s = '[';
        for (let i = 0; i < v.length; i++) {
          const c = canon(v[i]);
          if (c === null) return null;
          s += i ? `,${c}` : c;
        }
        return `${s}]`;
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      s = '{';
      let first = true;
      for (const k of keys) {
        if (o[k] === undefined) continue;
        const c = canon(o[k]);
        if (c === null) return null;
        s += `${first ? '' : ','}${JSON.stringify(k)}:${c}`;
        first = false;
      }
      return `${s}}`;
    }
    default:
      return null;
  }
}

function whereBad(v: unknown, at: string): string {
  if (typeof v === 'number') return `${at} is ${v}`;
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined && !Array.isArray(v)) continue;
      if (canon(x) === null) return whereBad(x, Array.isArray(v) ? `${at}[${k}]` : `${at}.${k}`);
    }
  }
  return `${at} is a ${typeof v}`;
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
