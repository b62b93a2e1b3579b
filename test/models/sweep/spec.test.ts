import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweepSpec, resolveSweepSpec, schemaField } from '../../../models/sweep/spec.ts';
import { UsageError } from '../../../sim/errors.ts';
import { gridValues } from '../../../sim/sweep/design.ts';

const FIXTURES = new URL('../../fixtures/sweep/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'migscope-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(raw: unknown): string {
  try {
    resolveSweepSpec(raw, join(dir, 'sweep.yaml'));
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message.replace(`${dir}/`, '');
  }
  throw new Error('expected a UsageError');
}

describe('loadSweepSpec', () => {
  it('loads the contract example shape with a base file relative to the spec', () => {
    const s = loadSweepSpec(join(FIXTURES, 'bandwidth-vs-dirty-rate.yaml'));
    expect(s.name).toBe('bandwidth-vs-dirty-rate');
    expect(s.base.name).toBe('default-1gib-zipf');
    expect(s.design.parameters.map((p) => p.path)).toEqual([
      'migration.maxBandwidthMiBps',
      'workload.dirtyRateMiBps',
      'migration.downtimeLimitMs',
    ]);
  });

  it('uses the built-in default scenario without base or scenario', () => {
    const s = resolveSweepSpec({ parameters: { 'vm.memoryMiB': [512] } }, join(dir, 'x.yaml'));
    expect(s.base.name).toBe('default-1gib-zipf');
    expect(s.name).toBe('default-1gib-zipf-sweep');
  });

  it('makes ranges of integer keys integer', () => {
    const s = resolveSweepSpec({ parameters: { 'vm.vcpus': { from: 1, to: 4, steps: 3 } } }, 'x.yaml');
    expect(gridValues(s.design.parameters[0]!.spec)).toEqual([1, 3, 4]);
  });

  it('names the file for unreadable and invalid YAML', () => {
    expect(() => loadSweepSpec(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read \(ENOENT\)/);
    writeFileSync(join(dir, 'bad.yaml'), 'parameters: [\n');
    expect(() => loadSweepSpec(join(dir, 'bad.yaml'))).toThrow(/bad\.yaml: not valid YAML \(line \d+\)/);
  });
});

describe('bad specs: one line naming the key', () => {
  it.each([
    [
      { parameters: { 'vm.memMiB': [1] } },
      'sweep.yaml: parameters.vm.memMiB: unknown scenario key memMiB in vm (known: memoryMiB, vcpus, uniformPageFraction, layout)',
    ],
    [
      { parameters: { 'cpu.count': [1] } },
      'sweep.yaml: parameters.cpu.count: unknown scenario key cpu (known: name, model, seed, vm,',
    ],
    [
      { parameters: { vm: [1] } },
      'sweep.yaml: parameters.vm: expected vm.KEY (keys: memoryMiB, vcpus, uniformPageFraction, layout)',
    ],
    [
      { parameters: { 'model.x': ['a'] } },
      'sweep.yaml: parameters.model.x: model is a single value, not a section',
    ],
    [
      { parameters: { seed: [1, 2] } },
      'sweep.yaml: parameters.seed: cannot vary seed: each run gets a seed derived from the sweep seed',
    ],
    [{ parameters: { 'vm.memoryMiB': [] } }, 'sweep.yaml: parameters.vm.memoryMiB: empty list'],
    [{ parameters: { 'vm.memoryMiB': [512, 0] } }, 'sweep.yaml: parameters.vm.memoryMiB: 0 must be > 0'],
    [
      { parameters: { 'vm.memoryMiB': [512, 'big'] } },
      'sweep.yaml: parameters.vm.memoryMiB: "big" is not a number',
    ],
    [{ parameters: { 'vm.vcpus': [1, 1.5] } }, 'sweep.yaml: parameters.vm.vcpus: 1.5 is not a whole number'],
    [
      { parameters: { 'workload.kind': ['zipf', 'bursty'] } },
      'sweep.yaml: parameters.workload.kind: unknown value "bursty" (one of: idle, uniform, zipf, sequential, replay)',
    ],
    [
      { parameters: { 'workload.kind': { from: 1, to: 2, steps: 2 } } },
      'sweep.yaml: parameters.workload.kind: a range needs a numeric key (workload.kind is a string); list the values',
    ],
    [
      { parameters: { 'migration.capabilities': ['xbzrle'] } },
      'sweep.yaml: parameters.migration.capabilities: "xbzrle" is not a list',
    ],
    [
      { parameters: { 'vm.uniformPageFraction': { from: 0, to: 2, steps: 3 } } },
      'sweep.yaml: parameters.vm.uniformPageFraction: range end 2 must be <= 1',
    ],
    [
      { parameters: { 'vm.memoryMiB': { from: 1, to: 2, steps: 0 } } },
      'sweep.yaml: parameters.vm.memoryMiB.steps: must be >= 1 (got 0)',
    ],
    [
      { sampler: 'lhs', parameters: { 'vm.memoryMiB': { from: 1, to: 2 } } },
      'sweep.yaml: samples: required for sampler lhs',
    ],
    [
      { parameters: { 'vm.memoryMiB': { from: 2048, to: 512, steps: 3 } } },
      'sweep.yaml: parameters.vm.memoryMiB: empty range: from 2048 > to 512',
    ],
    [{ sampler: 'random', samples: 0 }, 'sweep.yaml: samples: must be >= 1 (got 0)'],
    [{ base: 'nope.yaml' }, 'sweep.yaml: base: cannot read'],
    [
      { base: 'a.yaml', scenario: {} },
      'sweep.yaml: base: give either base (a file) or scenario (inline), not both',
    ],
    [{ scenario: { vm: { memoryMiB: -1 } } }, 'sweep.yaml: scenario: vm.memoryMiB: must be > 0 (got -1)'],
    [{ name: 3 }, 'sweep.yaml: name: expected a string, got 3'],
    [
      { parameter: {} },
      'sweep.yaml: parameter: unknown key (known: sampler, samples, seed, repeats, parameters, name, base, scenario)',
    ],
    [[1, 2], 'sweep.yaml: (top): expected a mapping'],
  ])('%j', (raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });
});

describe('schemaField', () => {
  it('finds fields in sections and at the top', () => {
    expect(schemaField('vm.memoryMiB')).toMatchObject({ kind: 'number' });
    expect(schemaField('model')).toMatchObject({ kind: 'string' });
    expect(typeof schemaField('vm.memoryMiB.x')).toBe('string');
  });
});
