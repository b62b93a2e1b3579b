/**
 * A sweep design: which parameters vary, over which values, and how points are drawn (grid, random or
 * Latin hypercube). Generic: a parameter is a dot path and its values are plain JSON; what a path means
 * is up to the caller, which can check each one through `checkParameter`.
 */
import { UsageError } from '../errors.ts';

/** How points are drawn from the parameter space. */
export const SAMPLERS = ['grid', 'random', 'lhs'] as const;
export type Sampler = (typeof SAMPLERS)[number];

/** The values of one parameter: an explicit list, or a numeric range (linear or log). */
export type ParamSpec =
  | { kind: 'list'; values: unknown[] }
  | {
      kind: 'range';
      from: number;
      to: number;
      /** Number of grid points (both ends included); null = continuous (random and lhs only). */
      steps: number | null;
      scale: 'linear' | 'log';
      /** Round drawn values to whole numbers. */
      integer: boolean;
    };

/** One varied parameter. */
export interface Parameter {
  path: string;
  spec: ParamSpec;
}

/** A validated sweep design. */
export interface Design {
  sampler: Sampler;
  /** Points to draw (random, lhs); null for grid. */
  samples: number | null;
  /** Seeds the sampler; each run's seed derives from it too. */
  seed: number;
  /** Runs per point, each with its own derived seed. */
  repeats: number;
  /** In the order the spec lists them; grid varies the last one fastest. */
  parameters: Parameter[];
}

/** The top-level keys `parseDesign` reads. */
export const DESIGN_KEYS = ['sampler', 'samples', 'seed', 'repeats', 'parameters'] as const;

/** A caller's check of one parameter: throw a UsageError naming `key`, or return the spec (maybe adjusted). */
export type CheckParameter = (path: string, spec: ParamSpec, key: string) => ParamSpec;

/** Largest expansion accepted; a bigger grid is almost certainly a typo. */
export const MAX_POINTS = 10_000_000;

const RANGE_KEYS = ['from', 'to', 'steps', 'scale', 'integer'];
const PATH_RE = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return typeof v === 'string'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? '[...]'
      : isPlainObject(v)
        ? '{...}'
        : String(v);
}

/**
 * Validate the design keys of a parsed sweep spec. `file` prefixes every message; `otherKeys` are top-level
 * keys the caller handles (name, base, ...); any other unknown key is an error.
 */
export function parseDesign(
  raw: Record<string, unknown>,
  file: string,
  otherKeys: readonly string[] = [],
  checkParameter?: CheckParameter,
): Design {
  const fail = (key: string, msg: string): never => {
    throw new UsageError(`${file}: ${key}: ${msg}`);
  };
  const known = [...DESIGN_KEYS, ...otherKeys];
  for (const k of Object.keys(raw))
    if (!known.includes(k)) fail(k, `unknown key (known: ${known.join(', ')})`);

  const sampler = (raw.sampler ?? 'grid') as Sampler;
  if (!SAMPLERS.includes(sampler))
    fail('sampler', `unknown sampler ${show(raw.sampler)} (one of: ${SAMPLERS.join(', ')})`);

  const wholeNumber = (key: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(key, `expected a whole number, got ${show(v)}`);
    const n = v as number;
    if (n < min) fail(key, `must be >= ${min} (got ${n})`);
    if (n > max) fail(key, `must be <= ${max} (got ${n})`);
    return n;
  };

  let samples: number | null = null;
  if (sampler === 'grid') {
    if (raw.samples !== undefined)
      fail('samples', 'only random and lhs take samples (grid runs every combination)');
  } else {
    if (raw.samples === undefined)
      fail('samples', `required for sampler ${sampler} (how many points to draw)`);
    samples = wholeNumber('samples', raw.samples, 1, MAX_POINTS);
  }
  const seed = raw.seed === undefined ? 1 : wholeNumber('seed', raw.seed, 0, 2 ** 32 - 1);
  const repeats = raw.repeats === undefined ? 1 : wholeNumber('repeats', raw.repeats, 1, 1_000_000);

  const params = raw.parameters ?? {};
  if (!isPlainObject(params))
    fail('parameters', `expected a mapping of parameter paths, got ${show(params)}`);
  const parameters: Parameter[] = [];
  for (const [path, v] of Object.entries(params as Record<string, unknown>)) {
    const key = `parameters.${path}`;
    if (!PATH_RE.test(path)) fail(key, 'expected a dot path such as vm.memoryMiB');
    let spec = parseParamSpec(v, key, sampler, fail);
    if (checkParameter) spec = checkParameter(path, spec, key);
    parameters.push({ path, spec });
  }
  const design: Design = { sampler, samples, seed, repeats, parameters };
  const points = pointCount(design);
  if (points * repeats > MAX_POINTS)
    fail(
      sampler === 'grid' ? 'parameters' : 'samples',
      `${points * repeats} runs is more than ${MAX_POINTS}`,
    );
  return design;
}

function parseParamSpec(
  v: unknown,
  key: string,
  sampler: Sampler,
  fail: (key: string, msg: string) => never,
): ParamSpec {
  if (Array.isArray(v)) {
    if (v.length === 0) fail(key, 'empty list (give at least one value)');
    const seen = new Set<string>();
    for (const x of v) {
      const s = JSON.stringify(x);
      if (seen.has(s)) fail(key, `duplicate value ${show(x)}`);
      seen.add(s);
    }
    return { kind: 'list', values: [...v] };
  }
  if (!isPlainObject(v)) fail(key, `expected a list of values or a range {from, to, steps}, got ${show(v)}`);
  const r = v as Record<string, unknown>;
  for (const k of Object.keys(r))
    if (!RANGE_KEYS.includes(k)) fail(`${key}.${k}`, `unknown key (known: ${RANGE_KEYS.join(', ')})`);
  for (const k of ['from', 'to'] as const) {
    if (r[k] === undefined) fail(`${key}.${k}`, 'required in a range');
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k]))
      fail(`${key}.${k}`, `expected a number, got ${show(r[k])}`);
  }
  const from = r.from as number;
  const to = r.to as number;
  if (from > to) fail(key, `empty range: from ${from} > to ${to} (list the values to go downwards)`);
  const scale = r.scale ?? 'linear';
  if (scale !== 'linear' && scale !== 'log')
    fail(`${key}.scale`, `expected linear or log, got ${show(scale)}`);
  if (scale === 'log' && !(from > 0 && to > 0))
    fail(key, `a log range needs from and to > 0 (got ${from} to ${to})`);
  let steps: number | null = null;
  if (r.steps === undefined) {
    if (sampler === 'grid')
      fail(`${key}.steps`, 'required for sampler grid (how many values between from and to)');
  } else {
    if (typeof r.steps !== 'number' || !Number.isInteger(r.steps))
      fail(`${key}.steps`, `expected a whole number, got ${show(r.steps)}`);
    steps = r.steps as number;
    if (steps < 1) fail(`${key}.steps`, `must be >= 1 (got ${steps})`);
    if (steps === 1 && from !== to)
      fail(`${key}.steps`, `1 step cannot span ${from} to ${to} (use steps >= 2, or from = to)`);
  }
  if (r.integer !== undefined && typeof r.integer !== 'boolean')
    fail(`${key}.integer`, `expected true or false, got ${show(r.integer)}`);
  const integer = r.integer === true;
  if (integer && Math.floor(Math.max(from, to)) < Math.ceil(Math.min(from, to)))
    fail(key, `empty range: no whole number between ${from} and ${to}`);
  return { kind: 'range', from, to, steps, scale: scale as 'linear' | 'log', integer };
}

/** Number of points (before repeats) the design expands to. */
export function pointCount(d: Design): number {
  if (d.sampler !== 'grid') return d.samples ?? 0;
  return d.parameters.reduce((n, p) => n * gridValues(p.spec).length, 1);
}

/** Round away float noise (0.1 + 0.2, exp(log(x))), so values print and hash as written. */
export function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

/** The discrete values of a parameter: the list, or the range's steps (deduplicated after rounding). */
export function gridValues(spec: ParamSpec): unknown[] {
  if (spec.kind === 'list') return spec.values;
  const n = spec.steps ?? 0;
  const out = new Set<number>();
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : i / (n - 1);
    const x =
      spec.scale === 'log' ? spec.from * (spec.to / spec.from) ** t : spec.from + (spec.to - spec.from) * t;
    out.add(spec.integer ? Math.round(x) : tidy(x));
  }
  return [...out];
}

/** The value at quantile `u` in [0, 1): a list or stepped range picks a value, a continuous range interpolates. */
export function valueAt(spec: ParamSpec, u: number): unknown {
  if (spec.kind === 'list' || spec.steps !== null) {
    const values = gridValues(spec);
    return values[Math.min(values.length - 1, Math.floor(u * values.length))];
  }
  const { from, to } = spec;
  if (spec.integer && spec.scale === 'linear') {
    const lo = Math.ceil(Math.min(from, to));
    const hi = Math.floor(Math.max(from, to));
    return lo + Math.min(hi - lo, Math.floor(u * (hi - lo + 1)));
  }
  const x = spec.scale === 'log' ? from * (to / from) ** u : from + (to - from) * u;
  return spec.integer ? Math.round(x) : tidy(x);
}
