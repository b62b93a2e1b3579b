import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MigrationResult, resultToJson } from '../../../models/result.ts';
import { loadScenario, resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { simulate } from '../../../models/simulate.ts';
import { applyCalibration, loadCalibration } from '../../../models/validate/calibration.ts';
import { DEFAULT_CALIBRATION } from '../../../models/validate/command.ts';
import { replayScenario } from '../../../models/workloads/replay.ts';
import { migscope } from '../../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-replay-'));
let n = 0;

/** The recorded guest: a zipf writer, 8 MiB/s over 8 MiB of a 32 MiB VM, seed 11. */
function zipfGuest(raw: Record<string, unknown> = {}): Scenario {
  return resolveScenario({
    model: 'qemu-7.2',
    seed: 11,
    vm: { memoryMiB: 32 },
    workload: { kind: 'zipf', wssMiB: 8, dirtyRateMiBps: 8 },
    migration: { maxBandwidthMiBps: 32 },
    ...raw,
  });
}

/** A recorded run: a simulated result.json, dressed with what a lab run adds to `extra`. */
function recorded(extra: MigrationResult['extra'] = {}, raw: Record<string, unknown> = {}): string {
  const s = zipfGuest(raw);
  const r: MigrationResult = simulate(s, { granularity: 'none' }).result;
  const f = join(dir, `recorded-${n++}.json`);
  writeFileSync(f, resultToJson({ ...r, extra: { ...r.extra, ...extra } }));
  return f;
}

/** A scenario replaying `file` under other migration parameters. */
function replay(file: string, raw: Record<string, unknown> = {}): Scenario {
  return resolveScenario({
    model: 'qemu-7.2',
    seed: 1,
    vm: { memoryMiB: 32 },
    workload: { kind: 'replay', replay: file },
    migration: { maxBandwidthMiBps: 64 },
    ...raw,
  });
}

describe('workload.kind: replay', () => {
  it('runs the recorded guest (kind, working set, seed) under the scenario’s migration', () => {
    const f = recorded();
    const s = replayScenario(replay(f));
    expect(s.workload).toMatchObject({ kind: 'zipf', wssMiB: 8, dirtyRateMiBps: 8, replay: f });
    expect(s.seed).toBe(11);
    expect(s.migration.maxBandwidthMiBps).toBe(64);
    // The same as writing that guest out by hand.
    const byHand = zipfGuest({ migration: { maxBandwidthMiBps: 64 } });
    const a = simulate(replay(f), { granularity: 'none' }).result;
    const b = simulate(byHand, { granularity: 'none' }).result;
    expect(resultToJson({ ...a, scenario: b.scenario })).toBe(resultToJson(b));
  });

  it('writes at the rate the real guest measured', () => {
    const slow = simulate(replay(recorded({ guestRateMiBps: 2 })), { granularity: 'none' }).result;
    const nominal = simulate(replay(recorded()), { granularity: 'none' }).result;
    expect(slow.scenario.workload.dirtyRateMiBps).toBe(2);
    const writes = (r: MigrationResult) => Number(r.extra.guestPageWrites);
    expect(writes(slow)).toBeLessThan(writes(nominal) / 3);
  });

  it('puts the working set where the recorded guest had it', () => {
    // 8 MiB = 2048 pages from page 0 (the scan's start): sent early, so resent more than at the top of RAM.
    const f = recorded({ wssPlacement: '0+2048' });
    const s = replayScenario(replay(f));
    expect(s.vm.layout).toBe(f);
    const low = simulate(replay(f), { granularity: 'none', trackVersions: true }).result;
    const top = simulate(replay(recorded()), { granularity: 'none', trackVersions: true }).result;
    expect(low.delivery?.pagesStale).toBe(0);
    expect(low.pages.normal).toBeGreaterThan(top.pages.normal);
    expect(() => simulate(replay(recorded({ wssPlacement: '0+100' })), { granularity: 'none' })).toThrow(
      /100-page working set, the scenario has 2048/,
    );
  });

  it('names what is wrong with the recorded run', () => {
    expect(() => replayScenario(replay(join(dir, 'missing.json')))).toThrow(/workload.replay: no such file/);
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{');
    expect(() => replayScenario(replay(notJson))).toThrow(/not JSON/);
    expect(() => replayScenario(replay(recorded({}, { vm: { memoryMiB: 64 } })))).toThrow(
      /ran a 64 MiB guest, the scenario has vm.memoryMiB 32/,
    );
  });

  it('replays a recorded lab run close to what the real migration did', () => {
    // test/fixtures/lab/recorded-replay: a real zipf run (8 MiB/s over 32 MiB, 32 MiB/s link) and a
    // scenario replaying it with the lab's calibrated host costs.
    const fixture = 'test/fixtures/lab/recorded-replay';
    const real = JSON.parse(readFileSync(join(fixture, 'result.json'), 'utf8')) as MigrationResult;
    const s = applyCalibration(
      loadScenario(join(fixture, 'replay.yaml')),
      loadCalibration(DEFAULT_CALIBRATION),
    );
    expect(s.vm.layout).toBe(join(fixture, 'result.json'));
    expect(s.workload.dirtyRateMiBps).toBe(real.extra.guestRateMiBps);
    const r = simulate(s, { granularity: 'none' }).result;
    expect(r.outcome).toBe('completed');
    expect(Math.abs(r.bytes.total / real.bytes.total - 1)).toBeLessThan(0.1);
    expect(Math.abs(r.totalTimeMs / real.totalTimeMs - 1)).toBeLessThan(0.1);
    expect(Math.abs(r.pages.uniform / real.pages.uniform - 1)).toBeLessThan(0.05);
  });

  it('exits 2 with one line from the CLI for a missing recorded run', async () => {
    const r = await migscope(
      'sim',
      '--set',
      'workload.kind=replay',
      '--set',
      'workload.replay=/nonexistent.json',
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/workload.replay: no such file/);
  });
});
