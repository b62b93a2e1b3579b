import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spanForest } from '../../reports/span-tree.ts';
import {
  SPEEDSCOPE_DEFAULTS,
  SPEEDSCOPE_SCHEMA,
  type SpeedscopeProfile,
  toSpeedscope,
} from '../../reports/speedscope.ts';
import { ATTR } from '../../trace/names.ts';
import { sampleRun, span } from './helpers.ts';
import { validate } from './json-schema.ts';

// speedscope's own schema, vendored (test/fixtures/speedscope/README.md): no network at test time.
const SCHEMA = JSON.parse(
  readFileSync(new URL('../fixtures/speedscope/file-format-schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

/** speedscope's evented-profile rules: sorted events, closes match the open frame, all inside the range. */
function checkEvented(p: SpeedscopeProfile): void {
  const open: number[] = [];
  let at = p.startValue;
  for (const e of p.events) {
    expect(e.at).toBeGreaterThanOrEqual(at);
    expect(e.at).toBeLessThanOrEqual(p.endValue);
    at = e.at;
    if (e.type === 'O') open.push(e.frame);
    else expect(open.pop()).toBe(e.frame);
  }
  expect(open).toEqual([]);
}

describe('toSpeedscope', () => {
  it('has the expected defaults', () => {
    expect(SPEEDSCOPE_DEFAULTS.weights).toEqual(['time', 'bytes']);
    expect(SPEEDSCOPE_DEFAULTS.name).toBe('migscope');
  });

  it('the checker rejects what the schema forbids', () => {
    expect(validate({ shared: { frames: [] }, profiles: [] }, SCHEMA)).toContain('$: missing $schema');
    const bad = {
      $schema: SPEEDSCOPE_SCHEMA,
      shared: { frames: [{ name: 'a' }] },
      profiles: [{ type: 'evented', name: 'p', unit: 'parsecs', startValue: 0, endValue: 1, events: [] }],
    };
    expect(validate(bad, SCHEMA).length).toBeGreaterThan(0);
  });

  it('writes a file valid against speedscope’s schema, with a time and a bytes profile', () => {
    for (const g of ['tick', 'iteration'] as const) {
      const run = sampleRun(g);
      const f = spanForest(run.trace!.spans);
      const file = toSpeedscope(f, { name: run.label });
      expect(validate(JSON.parse(JSON.stringify(file)), SCHEMA)).toEqual([]);
      expect(file.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
      expect(file.profiles.map((p) => p.unit)).toEqual(['nanoseconds', 'bytes']);
      for (const p of file.profiles) {
        checkEvented(p);
        for (const e of p.events) expect(file.shared.frames[e.frame]).toBeDefined();
      }
      const [time, bytes] = file.profiles as [SpeedscopeProfile, SpeedscopeProfile];
      expect(time.endValue - time.startValue).toBe(f[0]!.end - f[0]!.start);
      expect(bytes.endValue).toBe(run.result!.bytes.total);
      expect(new Set(file.shared.frames.map((fr) => fr.name)).size).toBe(file.shared.frames.length);
    }
  });

  it('leaves out zero-width spans and roots without bytes', () => {
    const r = span('r', 0, 10);
    const z = span('z', 5, 5, r);
    const file = toSpeedscope(spanForest([r, z]));
    expect(file.profiles).toHaveLength(1);
    expect(file.profiles[0]!.events).toEqual([
      { type: 'O', frame: 0, at: 0 },
      { type: 'C', frame: 0, at: 10e6 },
    ]);
    const b = span('b', 0, 10, null, { [ATTR.bytes]: 7 });
    expect(toSpeedscope(spanForest([b]), { weights: ['bytes'] }).profiles[0]).toMatchObject({
      unit: 'bytes',
      endValue: 7,
    });
  });
});
