/**
 * Sweep specs (../shared/contracts/sweep.example.yaml): a base scenario plus a design over scenario keys.
 * Loading checks every parameter path against the scenario SCHEMA and every listed value (and range end)
 * against the key's type and bounds, so a bad spec fails at once with one line naming the key.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../sim/errors.ts';
import { type Design, type ParamSpec, parseDesign } from '../../sim/sweep/design.ts';
import {
  DEFAULT_SCENARIO_YAML,
  parseScenarioText,
  parseYamlText,
  readInputFile,
  resolveScenario,
  SCHEMA,
} from '../scenario.ts';

/** A loaded sweep spec. */
export interface SweepSpec {
  name: string;
  /** Absolute path of the spec file (what Slurm tasks reload). */
  file: string;
  /** The base scenario, parsed but not resolved (parameters are set into it before resolving). */
  base: Record<string, unknown>;
  design: Design;
}

/** Top-level keys of a sweep spec besides the design's. */
export const SPEC_KEYS = ['name', 'base', 'scenario'] as const;

/** Scenario keys a sweep may not vary: the seed derives from the sweep seed per run (use repeats). */
const FIXED_KEYS: Record<string, string> = {
  seed: 'each run gets a seed derived from the sweep seed (use repeats for more seeds per point)',
};

interface SchemaField {
  kind: 'number' | 'integer' | 'string' | 'boolean' | 'list';
  min?: number;
  max?: number;
  above?: number;
  oneOf?: readonly string[];
  nullable?: boolean;
}

function isField(x: unknown): x is SchemaField {
  return typeof x === 'object' && x !== null && typeof (x as SchemaField).kind === 'string' && 'help' in x;
}

/** The SCHEMA field of a dot path, or a one-line reason why there is none. */
export function schemaField(path: string): SchemaField | string {
  const parts = path.split('.');
  const top = SCHEMA[parts[0]!];
  const known = (o: object) => Object.keys(o).join(', ');
  if (!top) return `unknown scenario key ${parts[0]} (known: ${known(SCHEMA)})`;
  if (isField(top)) return parts.length === 1 ? top : `${parts[0]} is a single value, not a section`;
  if (parts.length !== 2) return `expected ${parts[0]}.KEY (keys: ${known(top)})`;
  const f = (top as Record<string, unknown>)[parts[1]!];
  if (!isField(f)) return `unknown scenario key ${parts[1]} in ${parts[0]} (known: ${known(top)})`;
  return f;
}

function showValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** Why `v` is not a valid value of `f`, or null. */
function badValue(f: SchemaField, v: unknown): string | null {
  if (v === null) return f.nullable ? null : 'null is not allowed';
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') return `${showValue(v)} is not a string`;
      if (f.oneOf && !f.oneOf.includes(v))
        return `unknown value ${showValue(v)} (one of: ${f.oneOf.join(', ')})`;
      return null;
    case 'boolean':
      return typeof v === 'boolean' ? null : `${showValue(v)} is not true or false`;
    case 'list':
      if (!Array.isArray(v))
        return `${showValue(v)} is not a list (list-valued key: write each value as a list, e.g. [[], [xbzrle]])`;
      for (const x of v)
        if (f.oneOf && !f.oneOf.includes(x as string))
          return `unknown value ${showValue(x)} (one of: ${f.oneOf.join(', ')})`;
      return null;
    default: {
      if (typeof v !== 'number' || !Number.isFinite(v)) return `${showValue(v)} is not a number`;
      if (f.kind === 'integer' && !Number.isInteger(v)) return `${v} is not a whole number`;
      if (f.above !== undefined && !(v > f.above)) return `${v} must be > ${f.above}`;
      if (f.min !== undefined && v < f.min) return `${v} must be >= ${f.min}`;
      if (f.max !== undefined && v > f.max) return `${v} must be <= ${f.max}`;
      return null;
    }
  }
}

/** Check one parameter against the scenario SCHEMA; integer keys get integer ranges. */
function checkParameter(file: string) {
  return (path: string, spec: ParamSpec, key: string): ParamSpec => {
    const fail = (msg: string): never => {
      throw new UsageError(`${file}: ${key}: ${msg}`);
    };
    if (FIXED_KEYS[path]) fail(`cannot vary ${path}: ${FIXED_KEYS[path]}`);
    const f = schemaField(path);
    if (typeof f === 'string') fail(f);
    const field = f as SchemaField;
    if (spec.kind === 'list') {
      for (const v of spec.values) {
        const why = badValue(field, v);
        if (why) fail(why);
      }
      return spec;
    }
    if (field.kind !== 'number' && field.kind !== 'integer')
      fail(`a range needs a numeric key (${path} is a ${field.kind}); list the values`);
    for (const end of [spec.from, spec.to]) {
      const why = badValue({ ...field, kind: 'number' }, end);
      if (why) fail(`range end ${why}`);
    }
    return field.kind === 'integer' ? { ...spec, integer: true } : spec;
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate a parsed sweep spec. `file` is where it came from (base paths are relative to it). */
export function resolveSweepSpec(raw: unknown, file: string): SweepSpec {
  if (!isPlainObject(raw))
    throw new UsageError(`${file}: (top): expected a mapping (name, base, sampler, parameters, ...)`);
  const fail = (key: string, msg: string): never => {
    throw new UsageError(`${file}: ${key}: ${msg}`);
  };
  const design = parseDesign(raw, file, SPEC_KEYS, checkParameter(file));
  if (raw.name !== undefined && typeof raw.name !== 'string')
    fail('name', `expected a string, got ${showValue(raw.name)}`);
  if (raw.base !== undefined && raw.scenario !== undefined)
    fail('base', 'give either base (a file) or scenario (inline), not both');
  let base: Record<string, unknown>;
  let baseFile: string;
  if (raw.base !== undefined) {
    if (typeof raw.base !== 'string') fail('base', `expected a path, got ${showValue(raw.base)}`);
    baseFile = resolve(dirname(file), raw.base as string);
    let text = '';
    try {
      text = readFileSync(baseFile, 'utf8');
    } catch (err) {
      fail('base', `cannot read ${baseFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    base = parseScenarioText(text, { file: baseFile });
  } else if (raw.scenario !== undefined) {
    if (!isPlainObject(raw.scenario)) fail('scenario', 'expected a mapping (an inline scenario)');
    base = structuredClone(raw.scenario as Record<string, unknown>);
    baseFile = `${file}: scenario`;
  } else {
    base = parseScenarioText(DEFAULT_SCENARIO_YAML, { file: 'default scenario' });
    baseFile = 'default scenario';
  }
  resolveScenario(base, { file: baseFile });
  const name =
    (raw.name as string | undefined) ?? (typeof base.name === 'string' ? `${base.name}-sweep` : 'sweep');
  return { name, file: resolve(file), base, design };
}

/** Read, parse and validate a sweep spec file. */
export function loadSweepSpec(file: string): SweepSpec {
  const raw = parseYamlText(readInputFile(file), file);
  return resolveSweepSpec(raw ?? {}, file);
}
