/**
 * Scenarios: one migration described once (../shared/contracts/scenario.example.yaml), run by the simulator
 * or in the real lab. Parsing and validation turn YAML into a fully resolved `Scenario` (every default
 * filled in, per model) or a one-line `UsageError` naming the file and the key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, type YAMLParseError } from 'yaml';
import { UsageError } from '../sim/errors.ts';

/** The QEMU generations migscope models. */
export const MODEL_NAMES = ['qemu-0.12.3', 'qemu-7.2'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const WORKLOAD_KINDS = ['idle', 'uniform', 'zipf', 'sequential', 'replay'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Capabilities a scenario may turn on (QEMU 7.2 names; 0.12.3 has none). */
export const CAPABILITIES = ['auto-converge', 'xbzrle', 'multifd', 'zero-blocks'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** A fully resolved scenario: every key present, defaults filled in for its model. */
export interface Scenario {
  name: string;
  model: ModelName;
  seed: number;
  vm: { memoryMiB: number; vcpus: number; uniformPageFraction: number; layout: string | null };
  disk: { sizeMiB: number; allocatedMiB: number; migrate: boolean } | null;
  workload: {
    kind: WorkloadKind;
    wssMiB: number;
    dirtyRateMiBps: number;
    zipfS: number;
    diskWriteMiBps: number;
    cpuShare: number;
    replay: string | null;
  };
  migration: {
    /** 0 means unlimited (what libvirt 9.0 sets unless told otherwise). */
    maxBandwidthMiBps: number;
    downtimeLimitMs: number;
    capabilities: Capability[];
    timeoutS: number;
    xbzrleCacheMiB: number;
    multifdChannels: number;
  };
  network: { bandwidthMbps: number; rttMs: number; sendBufferKiB: number };
  host: {
    pageCopyNs: number;
    bitmapSyncNsPerGiB: number;
    bitmapSyncNsPerDirtyPage: number;
    deviceStateKiB: number;
    deviceSaveMs: number;
    deviceLoadMs: number;
    diskReadMiBps: number;
    qemuStartMs: number;
    monitorRttUs: number;
  };
  libvirt: { enabled: boolean; pollIntervalUs: number; rpcOverheadMs: number };
  /** Continuous replication (Remus/Kemari/COLO checkpointing, models/replication); absent = a migration. */
  replication?: {
    trigger: 'periodic' | 'output';
    epochMs: number;
    durationS: number;
    outputBuffering: boolean;
    outputPacketsPerS: number;
    failoverSamples: number;
    ackAfterLoad: boolean;
  };
}

type Kind = 'number' | 'integer' | 'string' | 'boolean' | 'list' | 'section';
interface Field {
  kind: Kind;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  oneOf?: readonly string[];
  nullable?: boolean;
  def: unknown | ((model: ModelName, raw: Record<string, unknown>) => unknown);
  help: string;
}

const num = (def: Field['def'], help: string, extra: Partial<Field> = {}): Field => ({
  kind: 'number',
  min: 0,
  def,
  help,
  ...extra,
});

/** Every scenario key: type, bounds, default (per model where the models differ) and a one-line help. */
export const SCHEMA: Record<string, Record<string, Field> | Field> = {
  name: { kind: 'string', def: 'scenario', help: 'a name for reports' },
  model: { kind: 'string', oneOf: MODEL_NAMES, def: 'qemu-0.12.3', help: 'which QEMU generation to model' },
  seed: { kind: 'integer', min: 0, max: 2 ** 32 - 1, def: 1, help: 'every random choice derives from it' },
  vm: {
    memoryMiB: num(1024, 'guest RAM', { above: 0, max: 1 << 22 }),
    vcpus: { kind: 'integer', min: 1, max: 1024, def: 1, help: 'virtual CPUs' },
    uniformPageFraction: num(0.55, 'share of never-written pages that are one repeated byte', { max: 1 }),
    layout: {
      kind: 'string',
      nullable: true,
      def: null,
      help: 'measured guest layout (migscope lab layout): where the working set and the zero pages are',
    },
  },
  disk: {
    sizeMiB: num(256, 'virtual disk size', { above: 0 }),
    allocatedMiB: num(64, 'allocated part of the disk (guest writes land here)'),
    migrate: { kind: 'boolean', def: false, help: 'QEMU block migration (migrate -b)' },
  },
  workload: {
    kind: { kind: 'string', oneOf: WORKLOAD_KINDS, def: 'idle', help: 'what the guest does' },
    wssMiB: num(64, 'writable working set'),
    dirtyRateMiBps: num(0, 'page writes per second, in MiB/s of 4 KiB pages'),
    zipfS: num(1.1, 'zipf exponent (kind: zipf)', { above: 0 }),
    diskWriteMiBps: num(0, 'guest disk writes during migration'),
    cpuShare: num(0.2, 'share of one vCPU the workload needs at its nominal rate', { above: 0, max: 1 }),
    replay: { kind: 'string', nullable: true, def: null, help: 'recorded run to replay (kind: replay)' },
  },
  migration: {
    // qemu-7.2 under libvirt 9.0: libvirt always sends max-bandwidth ≈ 2^63 B/s (unlimited) unless told
    // otherwise (qemu-spec.md §1d); a bare QMP client keeps QEMU's 128 MiB/s.
    maxBandwidthMiBps: num(
      (m: ModelName, raw: Record<string, unknown>) =>
        m === 'qemu-0.12.3' ? 32 : libvirtEnabled(raw) ? 0 : 128,
      'max-bandwidth; 0 = unlimited',
    ),
    downtimeLimitMs: num((m: ModelName) => (m === 'qemu-0.12.3' ? 30 : 300), 'downtime-limit', { above: 0 }),
    capabilities: { kind: 'list', oneOf: CAPABILITIES, def: [], help: 'migration capabilities' },
    timeoutS: num(600, 'give up (outcome: timeout) after this much time', { above: 0 }),
    xbzrleCacheMiB: num(64, 'xbzrle-cache-size', { above: 0 }),
    multifdChannels: { kind: 'integer', min: 1, max: 64, def: 2, help: 'multifd-channels' },
  },
  network: {
    bandwidthMbps: num(1000, 'link payload throughput', { above: 0 }),
    rttMs: num(0.2, 'round-trip time'),
    sendBufferKiB: num(4096, 'TCP socket send buffer', { above: 0 }),
  },
  host: {
    pageCopyNs: num(900, 'host cost per page in the send loop (read, check, copy, send)'),
    bitmapSyncNsPerGiB: num(2_000_000, 'dirty-log sync cost per GiB of guest RAM'),
    bitmapSyncNsPerDirtyPage: num(0, 'dirty-log sync cost per page found dirty (qemu-7.2; ~5 µs under TCG)'),
    deviceStateKiB: num(256, 'non-iterative device state sent at switchover'),
    deviceSaveMs: num(2, 'time to save device state on the source'),
    deviceLoadMs: num(5, 'time to load device state on the destination'),
    diskReadMiBps: num(500, 'host disk read throughput for block migration', { above: 0 }),
    qemuStartMs: num(250, 'time to start the destination QEMU process'),
    monitorRttUs: num(50, 'monitor command round trip (socket + parsing)'),
  },
  libvirt: {
    enabled: { kind: 'boolean', def: true, help: 'drive the migration through libvirt (0.7.7 or 9.0)' },
    pollIntervalUs: num((m: ModelName) => (m === 'qemu-0.12.3' ? 50 : 50_000), 'info migrate poll interval', {
      above: 0,
    }),
    rpcOverheadMs: num(0.5, 'libvirt RPC processing per call, beyond the network round trip'),
  },
  replication: {
    trigger: {
      kind: 'string',
      oneOf: ['periodic', 'output'],
      def: 'periodic',
      help: 'checkpoint every epochMs (Remus, COLO timer) or at each guest packet, epochMs at most (Kemari)',
    },
    epochMs: num(200, 'guest run time between checkpoints (Remus xl remus -i; COLO x-checkpoint-delay)', {
      above: 0,
    }),
    durationS: num(10, 'how long replication runs after the initial synchronisation', { above: 0 }),
    outputBuffering: { kind: 'boolean', def: true, help: 'hold network output until it is acked' },
    outputPacketsPerS: num(1000, 'guest network packets sent per second of guest run time (Poisson)'),
    failoverSamples: { kind: 'integer', min: 0, max: 1_000_000, def: 1000, help: 'random failover instants' },
    ackAfterLoad: { kind: 'boolean', def: false, help: 'standby acks after loading (COLO), not on receipt' },
  },
};

/** Whether a raw (unresolved) scenario drives the migration through libvirt (the default). */
function libvirtEnabled(raw: Record<string, unknown>): boolean {
  const l = raw.libvirt;
  return !(typeof l === 'object' && l !== null && (l as Record<string, unknown>).enabled === false);
}

const SECTIONS_OPTIONAL = new Set(['disk']);
/** Sections left out of the resolved scenario when absent (so scenarios without them resolve as before). */
const SECTIONS_OMITTED = new Set(['replication']);

/** Where a scenario came from, for error messages. */
export interface Origin {
  file: string;
}

function fail(origin: Origin, key: string, msg: string): never {
  throw new UsageError(`${origin.file}: ${key}: ${msg}`);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? '[...]' : String(v);
}

function checkValue(origin: Origin, key: string, f: Field, v: unknown): unknown {
  if (v === null && f.nullable) return null;
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') fail(origin, key, `expected a string, got ${show(v)}`);
      if (f.oneOf && !f.oneOf.includes(v))
        fail(origin, key, `unknown value ${show(v)} (one of: ${f.oneOf.join(', ')})`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') fail(origin, key, `expected true or false, got ${show(v)}`);
      return v;
    case 'list': {
      if (!Array.isArray(v)) fail(origin, key, `expected a list, got ${show(v)}`);
      for (const item of v)
        if (f.oneOf && !f.oneOf.includes(item as string))
          fail(origin, key, `unknown value ${show(item)} (one of: ${f.oneOf.join(', ')})`);
      return [...new Set(v)];
    }
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v))
        fail(origin, key, `expected a number, got ${show(v)}`);
      if (f.kind === 'integer' && !Number.isInteger(v))
        fail(origin, key, `expected a whole number, got ${v}`);
      if (f.above !== undefined && !(v > f.above)) fail(origin, key, `must be > ${f.above} (got ${v})`);
      if (f.min !== undefined && v < f.min) fail(origin, key, `must be >= ${f.min} (got ${v})`);
      if (f.max !== undefined && v > f.max) fail(origin, key, `must be <= ${f.max} (got ${v})`);
      return v;
    }
    default:
      return v;
  }
}

function isField(x: Record<string, Field> | Field): x is Field {
  return typeof (x as Field).kind === 'string' && 'help' in x;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate a parsed scenario object and fill in defaults. Throws `UsageError` naming the key at fault. */
export function resolveScenario(raw: unknown, origin: Origin = { file: 'scenario' }): Scenario {
  if (!isPlainObject(raw)) fail(origin, '(top)', 'expected a mapping of keys (name, model, vm, ...)');
  for (const k of Object.keys(raw))
    if (!(k in SCHEMA)) fail(origin, k, `unknown key (known: ${Object.keys(SCHEMA).join(', ')})`);
  const modelField = SCHEMA.model as Field;
  const model = (
    raw.model === undefined ? modelField.def : checkValue(origin, 'model', modelField, raw.model)
  ) as ModelName;
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SCHEMA)) {
    const v = raw[key];
    if (isField(spec)) {
      const def = typeof spec.def === 'function' ? spec.def(model, raw) : spec.def;
      out[key] = v === undefined ? def : checkValue(origin, key, spec, v);
      continue;
    }
    if ((v === undefined || v === null) && SECTIONS_OMITTED.has(key)) continue;
    if (v === undefined && SECTIONS_OPTIONAL.has(key)) {
      out[key] = null;
      continue;
    }
    if (v === null && SECTIONS_OPTIONAL.has(key)) {
      out[key] = null;
      continue;
    }
    if (v !== undefined && !isPlainObject(v)) fail(origin, key, `expected a mapping, got ${show(v)}`);
    const section = (v ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(section))
      if (!(k in spec)) fail(origin, `${key}.${k}`, `unknown key (known: ${Object.keys(spec).join(', ')})`);
    const sec: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(spec)) {
      const sv = section[k];
      const def = typeof f.def === 'function' ? f.def(model, raw) : f.def;
      sec[k] =
        sv === undefined ? (Array.isArray(def) ? [...def] : def) : checkValue(origin, `${key}.${k}`, f, sv);
    }
    out[key] = sec;
  }
  const s = out as unknown as Scenario;
  crossCheck(s, origin);
  return s;
}

function crossCheck(s: Scenario, origin: Origin): void {
  if (s.workload.kind !== 'idle' && s.workload.kind !== 'replay' && s.workload.wssMiB > s.vm.memoryMiB)
    fail(
      origin,
      'workload.wssMiB',
      `working set (${s.workload.wssMiB} MiB) exceeds vm.memoryMiB (${s.vm.memoryMiB})`,
    );
  if (
    s.workload.kind !== 'idle' &&
    s.workload.kind !== 'replay' &&
    s.workload.dirtyRateMiBps > 0 &&
    s.workload.wssMiB <= 0
  )
    fail(origin, 'workload.wssMiB', 'must be > 0 when the workload dirties pages');
  if (s.workload.kind === 'replay' && !s.workload.replay)
    fail(origin, 'workload.replay', 'kind: replay needs a recorded run (workload.replay: path)');
  if (s.disk && s.disk.allocatedMiB > s.disk.sizeMiB)
    fail(origin, 'disk.allocatedMiB', `exceeds disk.sizeMiB (${s.disk.allocatedMiB} > ${s.disk.sizeMiB})`);
  if (!s.disk && s.workload.diskWriteMiBps > 0)
    fail(
      origin,
      'workload.diskWriteMiBps',
      'the guest writes to a disk but the scenario has no disk section',
    );
  if (s.model === 'qemu-0.12.3' && s.migration.capabilities.length > 0)
    fail(
      origin,
      'migration.capabilities',
      `qemu-0.12.3 has no migration capabilities (got ${s.migration.capabilities.join(', ')})`,
    );
  if (s.model === 'qemu-0.12.3' && s.migration.maxBandwidthMiBps === 0)
    fail(
      origin,
      'migration.maxBandwidthMiBps',
      'qemu-0.12.3 cannot run unlimited (migrate_set_speed takes a uint32)',
    );
  if (s.replication && s.disk?.migrate)
    fail(origin, 'disk.migrate', 'replication treats the disk as shared storage (set disk.migrate: false)');
}

/** Set `path` (dot notation) in a raw scenario object to `value` (a YAML scalar, parsed). */
export function applySet(
  raw: Record<string, unknown>,
  assignment: string,
  origin: Origin = { file: '--set' },
): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) fail(origin, assignment, 'expected key=value');
  const path = assignment.slice(0, eq).trim();
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    value = text;
  }
  const parts = path.split('.');
  let obj: Record<string, unknown> = raw;
  for (const p of parts.slice(0, -1)) {
    if (obj[p] === undefined || obj[p] === null) obj[p] = {};
    if (!isPlainObject(obj[p])) fail(origin, path, `${p} is not a section`);
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]!] = value;
}

/** Parse YAML text from `file`; a syntax error is a one-line UsageError naming the file and the line. */
export function parseYamlText(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    const e = err as YAMLParseError;
    const where = e.linePos?.[0] ? ` (line ${e.linePos[0].line})` : '';
    throw new UsageError(`${file}: not valid YAML${where}: ${e.message.split('\n')[0]}`);
  }
}

/** Read a text file; a failure is a one-line UsageError naming the file. */
export function readInputFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Parse scenario YAML text (not yet validated). */
export function parseScenarioText(text: string, origin: Origin): Record<string, unknown> {
  const raw = parseYamlText(text, origin.file);
  if (raw === null || raw === undefined) return {};
  if (!isPlainObject(raw)) fail(origin, '(top)', 'expected a mapping of keys (name, model, vm, ...)');
  return raw;
}

/** Read, parse, apply `--set` assignments, and validate a scenario file. */
export function loadScenario(file: string, sets: readonly string[] = []): Scenario {
  const raw = parseScenarioText(readInputFile(file), { file });
  for (const s of sets) applySet(raw, s);
  return resolveScenario(raw, { file });
}

/** The scenario `npm start` runs when no file is given: a 1 GiB VM dirtying a zipf working set. */
export const DEFAULT_SCENARIO_YAML = `name: default-1gib-zipf
model: qemu-0.12.3
seed: 42
vm:
  memoryMiB: 1024
  uniformPageFraction: 0.55
workload:
  kind: zipf
  wssMiB: 64
  dirtyRateMiBps: 16
  zipfS: 1.1
migration:
  maxBandwidthMiBps: 32
network:
  bandwidthMbps: 1000
  rttMs: 0.2
`;
