import { describe, expect, it } from 'vitest';
import {
  applySet,
  DEFAULT_SCENARIO_YAML,
  parseScenarioText,
  resolveScenario,
} from '../../models/scenario.ts';
import { UsageError } from '../../sim/errors.ts';

const origin = { file: 'x.yaml' };

describe('scenario validation', () => {
  it('fills defaults per model', () => {
    const old = resolveScenario({ model: 'qemu-0.12.3' }, origin);
    expect(old.migration.maxBandwidthMiBps).toBe(32);
    expect(old.migration.downtimeLimitMs).toBe(30);
    const modern = resolveScenario({ model: 'qemu-7.2' }, origin);
    expect(modern.migration.downtimeLimitMs).toBe(300);
    expect(old.disk).toBeNull();
  });

  it('accepts the contract example keys', () => {
    const s = resolveScenario(parseScenarioText(DEFAULT_SCENARIO_YAML, origin), origin);
    expect(s.workload.kind).toBe('zipf');
    expect(s.vm.memoryMiB).toBe(1024);
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unknown top key', { colour: 'red' }, /^x\.yaml: colour: unknown key/],
    ['unknown nested key', { vm: { memoryGiB: 1 } }, /^x\.yaml: vm\.memoryGiB: unknown key/],
    [
      'wrong type',
      { workload: { dirtyRateMiBps: 'fast' } },
      /^x\.yaml: workload\.dirtyRateMiBps: expected a number, got "fast"$/,
    ],
    ['impossible value', { vm: { memoryMiB: -5 } }, /^x\.yaml: vm\.memoryMiB: must be > 0 \(got -5\)$/],
    ['unknown model', { model: 'qemu-9.9' }, /^x\.yaml: model: unknown value "qemu-9\.9"/],
    [
      'unknown capability',
      { model: 'qemu-7.2', migration: { capabilities: ['warp'] } },
      /migration\.capabilities: unknown value "warp"/,
    ],
    [
      'wss larger than RAM',
      { vm: { memoryMiB: 64 }, workload: { kind: 'uniform', wssMiB: 128, dirtyRateMiBps: 1 } },
      /workload\.wssMiB/,
    ],
    ['disk writes without disk', { workload: { diskWriteMiBps: 1 } }, /workload\.diskWriteMiBps/],
    ['section not a mapping', { vm: 3 }, /^x\.yaml: vm: expected a mapping/],
    ['capabilities on 0.12.3', { migration: { capabilities: ['xbzrle'] } }, /no migration capabilities/],
  ];
  for (const [what, raw, msg] of bad)
    it(`rejects ${what} with one line naming file and key`, () => {
      let err: unknown;
      try {
        resolveScenario(raw, origin);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    });

  it('reports YAML syntax errors with the line', () => {
    expect(() => parseScenarioText('vm:\n  memoryMiB: [1,\n', origin)).toThrow(/^x\.yaml: not valid YAML/);
  });

  it('--set assigns dot paths with YAML scalars', () => {
    const raw: Record<string, unknown> = {};
    applySet(raw, 'migration.maxBandwidthMiBps=64');
    applySet(raw, 'disk.migrate=true');
    applySet(raw, 'name=abc');
    expect(raw).toEqual({ migration: { maxBandwidthMiBps: 64 }, disk: { migrate: true }, name: 'abc' });
    expect(() => applySet(raw, 'novalue')).toThrow(UsageError);
  });
});
