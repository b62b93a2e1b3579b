/**
 * Real live migrations between two local QEMU 7.2 processes (trace/lab/run.ts). Slow: each boots a TCG
 * guest (about 5 s) and migrates it. All cases sit in this one file so they run one after another (two
 * QEMUs per case already fill a 2-core machine). In CI (CI=true) a missing lab fails the suite; on a
 * machine without QEMU it is skipped. Install with: bash test/setup/install-qemu.sh
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationResult } from '../../../models/result.ts';
import { loadScenario } from '../../../models/scenario.ts';
import { labAvailable, REPO_ROOT } from '../../../trace/lab/guest.ts';
import { livePids } from '../../../trace/lab/qemu-process.ts';
import { type LabRun, runLab } from '../../../trace/lab/run.ts';
import { SPAN } from '../../../trace/names.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/lab');
const CI = process.env.CI === 'true';
const run = CI || labAvailable() ? describe : describe.skip;

interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** The spans of a trace.otlp.jsonl file, flattened. */
function readSpans(file: string): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const d = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const rs of d.resourceSpans) for (const ss of rs.scopeSpans) out.push(...ss.spans);
  }
  return out;
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};
const ns = (x: string) => BigInt(x);

/** The span tree every lab run has: one session root; migration, incoming and commands under it. */
function checkTree(spans: OtlpSpan[], opts: { completed: boolean }): Map<string, OtlpSpan[]> {
  const byName = new Map<string, OtlpSpan[]>();
  for (const s of spans) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const roots = spans.filter((s) => !s.parentSpanId);
  expect(roots).toHaveLength(1);
  const root = roots[0]!;
  expect(attr(root, 'monitor.command')).toBe('session');
  const ids = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) {
    if (s === root) continue;
    const parent = ids.get(s.parentSpanId!);
    expect(parent, `${s.name} has a parent`).toBeDefined();
    // Children sit inside their parent (host clock, µs resolution).
    expect(
      ns(s.startTimeUnixNano) >= ns(parent!.startTimeUnixNano),
      `${s.name} starts in ${parent!.name}`,
    ).toBe(true);
    expect(
      ns(s.endTimeUnixNano) <= ns(parent!.endTimeUnixNano) + 1000n,
      `${s.name} ends in ${parent!.name}`,
    ).toBe(true);
  }
  const migration = byName.get(SPAN.migration) ?? [];
  expect(migration).toHaveLength(1);
  expect(migration[0]!.parentSpanId).toBe(root.spanId);
  const commands = (byName.get(SPAN.monitorCommand) ?? []).map((s) => attr(s, 'monitor.command'));
  for (const c of [
    'qmp_capabilities',
    'migrate-set-capabilities',
    'migrate-set-parameters',
    'migrate',
    'query-migrate',
    'migrate-incoming',
  ])
    expect(commands).toContain(c);
  const under = (name: string) =>
    (byName.get(name) ?? []).filter((s) => s.parentSpanId === migration[0]!.spanId);
  expect(under(SPAN.setup)).toHaveLength(1);
  expect(under(SPAN.pass).length).toBeGreaterThanOrEqual(1);
  expect(under(SPAN.dirtySync).length).toBe(under(SPAN.pass).length);
  expect(under(SPAN.window).length, 'rate windows from the trace-event log').toBeGreaterThan(0);
  if (opts.completed) {
    expect(under(SPAN.downtime)).toHaveLength(1);
    expect(byName.get(SPAN.labRamCompare)).toHaveLength(1);
    expect(byName.get(SPAN.incoming)).toHaveLength(1);
  }
  return byName;
}

/** What every completed run must satisfy: QMP's numbers, one iteration per pass, identical RAM. */
function checkCompleted(r: MigrationResult): void {
  expect(r.source).toBe('real');
  expect(r.model).toBe('qemu-7.2');
  expect(r.outcome, r.message ?? '').toBe('completed');
  expect(r.converged).toBe(true);
  expect(r.totalTimeMs, 'total time').toBeGreaterThan(0);
  expect(r.downtimeMs, 'downtime').toBeGreaterThanOrEqual(0);
  expect(r.downtimeMs!).toBeLessThan(r.totalTimeMs);
  expect(r.setupTimeMs).toBeGreaterThanOrEqual(0);
  expect(r.iterations.length).toBe(r.extra.dirtySyncCount);
  r.iterations.forEach((it, i) => {
    expect(it.index).toBe(i + 1);
    expect(it.endMs).toBeGreaterThanOrEqual(it.startMs);
  });
  expect(r.iterations[r.iterations.length - 1]!.remainingPages).toBe(0);
  // Sum of per-pass bytes is the RAM counter (interpolated between 50 ms samples, hence the rounding).
  const sum = r.iterations.reduce((a, it) => a + it.bytes, 0);
  expect(Math.abs(sum - r.bytes.ram)).toBeLessThan(0.02 * r.bytes.ram);
  // Every guest page was sent at least once: RAM (+8 KiB) is 256 pages per MiB + 2.
  const pages = r.scenario.vm.memoryMiB * 256 + 2;
  expect(r.pages.normal + r.pages.uniform).toBeGreaterThanOrEqual(pages);
  expect(r.bytes.ram).toBeGreaterThanOrEqual(r.pages.normal * 4096);
  expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  expect(r.extra.ramPagesCompared).toBe(pages);
  expect(r.extra.ramPagesDiffering).toBe(0);
}

function tempDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith('migscope-lab-'));
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

run('real migration lab (QEMU 7.2, TCG)', () => {
  let out: string;
  let before: string[];
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'migscope-lab-test-'));
    before = tempDirs();
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  /** After every run: no QEMU of ours alive, no temporary directory left. */
  function checkClean(lab: LabRun): void {
    expect(livePids()).toEqual([]);
    const rec = JSON.parse(readFileSync(join(lab.paths!.dir, 'lab-record.json'), 'utf8'));
    for (const side of ['source', 'destination'])
      if (rec[side].pid) expect(gone(rec[side].pid), `${side} pid gone`).toBe(true);
    expect(tempDirs()).toEqual(before);
  }

  it('migrates an idle 128 MiB guest and finds RAM identical', async () => {
    const scn = loadScenario(join(FIXTURES, 'idle.yaml'));
    const lab = await runLab(scn, { outDir: join(out, 'idle') });
    const r = lab.result;
    checkCompleted(r);
    // Idle: the first pass sends everything, the rest is the kernel's few pages (real-lab.md §2.2: 3 syncs).
    expect(r.iterations.length).toBeGreaterThanOrEqual(2);
    expect(r.iterations.length).toBeLessThanOrEqual(5);
    expect(r.iterations[0]!.bytes).toBeGreaterThan(0.8 * r.bytes.ram);
    expect(r.downtimeMs!).toBeLessThan(300);
    checkTree(readSpans(lab.paths!.trace!), { completed: true });
    expect(JSON.parse(readFileSync(lab.paths!.result, 'utf8'))).toEqual(r);
    checkClean(lab);
  }, 120_000);

  it('migrates without a bandwidth limit and still reads settled totals', async () => {
    // Fast enough that a poll often lands between QEMU's COMPLETED and its total-time being filled in.
    const scn = loadScenario(join(FIXTURES, 'idle.yaml'), ['migration.maxBandwidthMiBps=0']);
    const lab = await runLab(scn, { outDir: join(out, 'unlimited'), sampleIntervalMs: 10 });
    const r = lab.result;
    checkCompleted(r);
    expect(r.totalTimeMs).toBeGreaterThan(r.setupTimeMs!);
    expect(r.totalTimeMs).toBeLessThan(5000);
    checkClean(lab);
  }, 120_000);

  it('migrates a dirtying guest that converges and sends its working set again', async () => {
    const scn = loadScenario(join(FIXTURES, 'dirty-converge.yaml'));
    const lab = await runLab(scn, { outDir: join(out, 'dirty') });
    const r = lab.result;
    checkCompleted(r);
    // The guest's last heartbeat (1 s window; a stall on a busy host is caught up in the next window).
    expect(r.extra.guestRateMiBps).toBeGreaterThan(6);
    expect(r.extra.guestRateMiBps).toBeLessThan(10);
    // Where its working set landed, every page of it, as runs of guest pages.
    const wssPages = scn.workload.wssMiB * 256;
    const placed = String(r.extra.wssPlacement)
      .split(',')
      .reduce((n, run) => n + Number(run.split('+')[1]), 0);
    expect(placed).toBe(wssPages);
    // At 32 MiB/s the first pass takes 3 s, in which the zipf writer dirties pages the next pass resends.
    expect(r.iterations.length).toBeGreaterThanOrEqual(3);
    expect(r.iterations[1]!.dirtyPagesAtSync).toBeGreaterThan(100);
    // The rate limiter holds the link to max-bandwidth, 32 MiB/s (never above; below only when the
    // migration thread is starved of CPU).
    expect(r.iterations[0]!.bandwidthEstimate! / (32 * 1048576)).toBeGreaterThan(0.5);
    expect(r.iterations[0]!.bandwidthEstimate! / (32 * 1048576)).toBeLessThan(1.1);
    expect(r.bytes.ram).toBeGreaterThan(scn.vm.memoryMiB * 0.5 * 1048576);
    checkTree(readSpans(lab.paths!.trace!), { completed: true });
    checkClean(lab);
  }, 120_000);

  it('cancels a guest that cannot converge at the timeout', async () => {
    const scn = loadScenario(join(FIXTURES, 'no-converge.yaml'));
    const lab = await runLab(scn, { outDir: join(out, 'noconv') });
    const r = lab.result;
    expect(r.outcome).toBe('timeout');
    expect(r.converged).toBe(false);
    expect(r.message).toMatch(/did not converge within 8 s/);
    expect(r.downtimeMs).toBeNull();
    expect(r.delivery).toBeNull();
    expect(r.totalTimeMs).toBeGreaterThanOrEqual(8000);
    expect(r.totalTimeMs).toBeLessThan(12_000);
    // 8 s at 16 MiB/s is about 128 MiB on the wire, none of it enough.
    expect(r.bytes.ram).toBeGreaterThan(80 * 1048576);
    expect(r.bytes.ram).toBeLessThan(160 * 1048576);
    const events = (
      JSON.parse(readFileSync(join(lab.paths!.dir, 'lab-record.json'), 'utf8')).source.events as {
        event: string;
        data: { status?: string };
      }[]
    )
      .filter((e) => e.event === 'MIGRATION')
      .map((e) => e.data.status);
    expect(events.slice(-2)).toEqual(['cancelling', 'cancelled']);
    const byName = checkTree(readSpans(lab.paths!.trace!), { completed: false });
    expect(byName.get(SPAN.downtime)).toBeUndefined();
    expect(attr(byName.get(SPAN.migration)![0]!, 'migscope.outcome')).toBe('timeout');
    checkClean(lab);
  }, 120_000);

  it('migrates a disk with block migration and finds the images identical', async () => {
    const scn = loadScenario(join(FIXTURES, 'block.yaml'));
    const lab = await runLab(scn, { outDir: join(out, 'block') });
    const r = lab.result;
    checkCompleted(r);
    expect(r.extra.diskIdentical).toBe(true);
    // The whole 64 MiB device is copied (unallocated space included), bulk first.
    expect(r.bytes.block).toBeGreaterThanOrEqual(60 * 1048576);
    expect(r.bytes.total).toBe(r.bytes.ram + r.bytes.block);
    const byName = checkTree(readSpans(lab.paths!.trace!), { completed: true });
    expect(attr(byName.get(SPAN.labDiskCompare)![0]!, 'lab.disk.identical')).toBe(true);
    checkClean(lab);
  }, 120_000);

  it('reports a source QEMU killed mid-migration as failed and leaves nothing behind', async () => {
    const scn = loadScenario(join(FIXTURES, 'no-converge.yaml'), ['migration.timeoutS=30']);
    const lab = await runLab(scn, { outDir: join(out, 'kill'), killSourceAfterMs: 1500 });
    const r = lab.result;
    expect(r.outcome).toBe('failed');
    expect(r.message).toMatch(
      /^source QEMU \(pid \d+\) killed by SIGKILL during the migration \(last status active/,
    );
    expect(r.delivery).toBeNull();
    expect(r.totalTimeMs).toBeGreaterThanOrEqual(1400);
    expect(r.totalTimeMs).toBeLessThan(5000);
    expect(r.bytes.ram).toBeGreaterThan(0);
    // The partial trace has the migration up to the kill.
    const byName = checkTree(readSpans(lab.paths!.trace!), { completed: false });
    expect(attr(byName.get(SPAN.migration)![0]!, 'migscope.outcome')).toBe('failed');
    checkClean(lab);
  }, 120_000);

  it('stops cleanly on SIGINT from the command line (exit 130, outcome cancelled)', async () => {
    const dir = join(out, 'sigint');
    const child = spawn(
      process.execPath,
      [
        'migscope.js',
        'lab',
        'run',
        join(FIXTURES, 'no-converge.yaml'),
        '--out',
        dir,
        '--set',
        'migration.timeoutS=30',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      // Interrupt once the migration is under way.
      if (!sent && / active /.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(sent, stderr).toBe(true);
    expect(code, stdout + stderr).toBe(130);
    const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as MigrationResult;
    expect(r.outcome).toBe('cancelled');
    expect(r.message).toMatch(/interrupted/);
    expect(existsSync(join(dir, 'trace.otlp.jsonl'))).toBe(true);
    const rec = JSON.parse(readFileSync(join(dir, 'lab-record.json'), 'utf8'));
    expect(gone(rec.source.pid)).toBe(true);
    expect(gone(rec.destination.pid)).toBe(true);
    expect(tempDirs()).toEqual(before);
  }, 120_000);
});
