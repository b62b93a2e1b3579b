/**
 * One real live migration between two local QEMU 7.2 processes (TCG, loopback), driven over QMP like the
 * simulator's bare monitor client: start both, wait for the guest workload, set capabilities and
 * parameters, migrate, poll query-migrate, cancel at the timeout, then check RAM (and disk) and write the
 * same result.json and trace.otlp.jsonl as the simulator. Everything the run observed is kept as a
 * `LabRecord`; `assembleLab` turns it into the result and spans.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { PageRuns } from '../../models/guest/layout.ts';
import { type RunPaths, writeRun } from '../../models/output.ts';
import type { MigrationResult, Outcome } from '../../models/result.ts';
import type { Scenario } from '../../models/scenario.ts';
import { parseTraceLog, type TraceLog } from '../import/qemu-trace-events.ts';
import { assembleLab } from './assemble.ts';
import { compareDisks, compareFiles, createDisk } from './compare.ts';
import {
  capabilitiesFor,
  checkLabScenario,
  findLab,
  guestCmdline,
  guestRamBytes,
  type LabFiles,
  memoryArg,
  type QemuFiles,
  qemuArgs,
  TRACE_EVENTS,
} from './guest.ts';
import { parseWssRuns } from './layout.ts';
import { describeExit, QemuProcess, registerTempDir, removeTempDir } from './qemu-process.ts';
import { nowUs, QmpClient, QmpClosedError, QmpError, type QmpEvent, type QmpExchange } from './qmp.ts';

/** One query-migrate reply and when it arrived. */
export interface MigrateSample {
  tUs: number;
  info: QueryMigrateInfo;
}

/** The parts of QEMU 7.2's MigrationInfo the lab reads (the rest is kept as is). */
export interface QueryMigrateInfo {
  status?: string;
  'total-time'?: number;
  'setup-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'cpu-throttle-percentage'?: number;
  ram?: Record<string, number>;
  disk?: Record<string, number>;
  'error-desc'?: string;
  [k: string]: unknown;
}

/** What one QEMU side saw over QMP. */
export interface SideRecord {
  pid: number | null;
  exit: string | null;
  events: QmpEvent[];
  exchanges: QmpExchange[];
}

/** Everything a lab run observed: the input of `assembleLab` (and lab-record.json in the output). */
export interface LabRecord {
  scenario: Scenario;
  qemuVersion: string;
  memoryArg: string;
  cmdline: string;
  uri: string | null;
  sessionStartUs: number;
  /** QEMU processes spawned. */
  spawnUs: number | null;
  /** The guest printed LAB_WORKLOAD_START (seen by the host). */
  workloadStartUs: number | null;
  migrateSentUs: number | null;
  /** When the host decided the migration phase was over (terminal status, crash or abort). */
  migrationEndUs: number | null;
  cancelSentUs: number | null;
  sessionEndUs: number;
  outcome: Outcome;
  message: string | null;
  source: SideRecord;
  destination: SideRecord;
  samples: MigrateSample[];
  ramCompare: { startUs: number; endUs: number; pages: number; differing: number; first: number[] } | null;
  diskCompare: {
    startUs: number;
    endUs: number;
    identical: boolean;
    differingChunks: number;
    output: string;
  } | null;
  /** The guest's measured page-write rate (MiB/s) from its last heartbeat before the migration ended. */
  guestRateMiBps: number | null;
  /** Where the guest's working set landed (LAB_WSS_PFN_RUNS of the serial console), when it printed it. */
  wssPlacement?: PageRuns | null;
}

/** Progress of a running lab migration, for a status line. */
export interface LabProgress {
  phase: 'boot' | 'migrate' | 'cancel' | 'compare';
  elapsedS: number;
  status: string | null;
  transferredBytes: number;
  remainingBytes: number;
  passes: number;
  mbps: number;
}

/** Options of `runLab`. */
export interface LabOptions {
  /** Write result.json, trace.otlp.jsonl and the raw logs here (also after a failure). */
  outDir?: string;
  /** The built guest (default .cache/lab). */
  labDir?: string;
  /** query-migrate poll period (default 50 ms). */
  sampleIntervalMs?: number;
  /** Give up on the guest booting after this long (default 90 s: two TCG guests share 2 cores). */
  bootTimeoutS?: number;
  /** Let the workload run this long before migrating (default 500 ms). */
  warmupMs?: number;
  /** Abort the run (SIGINT): the migration is cancelled, files written, processes stopped. */
  signal?: AbortSignal;
  onProgress?: (p: LabProgress) => void;
  /** Fault injection for tests: SIGKILL the source QEMU this long after `migrate`. */
  killSourceAfterMs?: number;
}

/** A finished lab run. */
export interface LabRun {
  result: MigrationResult;
  spans: ReadableSpan[];
  /** Paths written when `outDir` was given. */
  paths: (RunPaths & { dir: string; extra: string[] }) | null;
}

/** Raised inside a run when the abort signal fires. */
export class LabAborted extends Error {
  override name = 'LabAborted';
}

/** A run-time failure with a message for result.json (QEMU died, boot timed out, ...). */
export class LabFailure extends Error {
  override name = 'LabFailure';
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Run `scn` as a real migration. Throws UsageError for what the lab cannot run or when it is not
 * installed; every other failure becomes outcome "failed" (or "cancelled" on abort) in the result. */
export async function runLab(scn: Scenario, opts: LabOptions = {}): Promise<LabRun> {
  checkLabScenario(scn);
  const lab = findLab(opts.labDir);
  const tmp = mkdtempSync(join(tmpdir(), 'migscope-lab-'));
  registerTempDir(tmp);
  const files = (role: string, disk: string | null): QemuFiles => ({
    qmp: join(tmp, `${role}.qmp`),
    serial: join(tmp, `${role}-serial.log`),
    trace: join(tmp, `${role}-trace.log`),
    stderr: join(tmp, `${role}-stderr.log`),
    disk,
  });
  const srcDisk = scn.disk ? join(tmp, 'source.qcow2') : null;
  // Without block migration both sides share the image, as with shared storage.
  const dstDisk = scn.disk ? (scn.disk.migrate ? join(tmp, 'destination.qcow2') : srcDisk) : null;
  const f = { source: files('source', srcDisk), destination: files('destination', dstDisk) };
  const rec: LabRecord = {
    scenario: scn,
    qemuVersion: '',
    memoryArg: memoryArg(scn),
    cmdline: guestCmdline(scn),
    uri: null,
    sessionStartUs: nowUs(),
    spawnUs: null,
    workloadStartUs: null,
    migrateSentUs: null,
    migrationEndUs: null,
    cancelSentUs: null,
    sessionEndUs: 0,
    outcome: 'failed',
    message: null,
    source: { pid: null, exit: null, events: [], exchanges: [] },
    destination: { pid: null, exit: null, events: [], exchanges: [] },
    samples: [],
    ramCompare: null,
    diskCompare: null,
    guestRateMiBps: null,
  };
  const st: RunState = { lab, scn, opts, tmp, f, rec, src: null, dst: null, srcQmp: null, dstQmp: null };
  let traces: { source: TraceLog | null; destination: TraceLog | null } = { source: null, destination: null };
  let copied: string[] = [];
  try {
    await drive(st);
  } catch (err) {
    rec.migrationEndUs ??= nowUs();
    if (err instanceof LabAborted) {
      rec.outcome = 'cancelled';
      rec.message = err.message;
    } else {
      rec.outcome = 'failed';
      rec.message =
        err instanceof LabFailure ? err.message : `lab error: ${(err as Error).message ?? String(err)}`;
    }
  } finally {
    await shutdown(st);
    traces = readTraces(f);
    rec.guestRateMiBps = guestRate(f.source.serial);
    rec.wssPlacement = wssPlacement(f.source.serial);
    if (opts.outDir) copied = keepLogs(f, opts.outDir);
    removeTempDir(tmp);
  }
  rec.sessionEndUs = nowUs();
  const { result, spans } = assembleLab(rec, traces);
  let paths: LabRun['paths'] = null;
  if (opts.outDir) {
    const p = writeRun(opts.outDir, result, spans);
    const recordPath = join(opts.outDir, 'lab-record.json');
    writeFileSync(recordPath, `${JSON.stringify(rec)}\n`);
    paths = { ...p, dir: opts.outDir, extra: [recordPath, ...copied] };
  }
  return { result, spans, paths };
}

interface RunState {
  lab: LabFiles;
  scn: Scenario;
  opts: LabOptions;
  tmp: string;
  f: { source: QemuFiles; destination: QemuFiles };
  rec: LabRecord;
  src: QemuProcess | null;
  dst: QemuProcess | null;
  srcQmp: QmpClient | null;
  dstQmp: QmpClient | null;
}

async function drive(st: RunState): Promise<void> {
  const { lab, scn, opts, f, rec } = st;
  const progress = (p: Omit<LabProgress, 'elapsedS'>) =>
    opts.onProgress?.({ ...p, elapsedS: (nowUs() - (rec.migrateSentUs ?? rec.sessionStartUs)) / 1e6 });
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new LabAborted('interrupted before the migration started');
  };
  const traceEvents = join(st.tmp, 'trace-events.txt');
  writeFileSync(traceEvents, `${TRACE_EVENTS.join('\n')}\n`);
  if (scn.disk) {
    await createDisk(lab.qemuImg, f.source.disk!, scn.disk.sizeMiB, scn.disk.allocatedMiB);
    if (scn.disk.migrate) await createDisk(lab.qemuImg, f.destination.disk!, scn.disk.sizeMiB, 0);
  }
  checkAbort();
  rec.spawnUs = nowUs();
  st.dst = new QemuProcess(
    'destination',
    lab.qemu,
    qemuArgs(scn, lab, f.destination, traceEvents, true),
    f.destination.stderr,
  );
  rec.destination.pid = st.dst.pid;
  st.src = new QemuProcess(
    'source',
    lab.qemu,
    qemuArgs(scn, lab, f.source, traceEvents, false),
    f.source.stderr,
  );
  rec.source.pid = st.src.pid;
  const src = st.src;
  const dst = st.dst;
  st.dstQmp = await connectQmp(dst, f.destination);
  rec.destination.events = st.dstQmp.events;
  rec.destination.exchanges = st.dstQmp.exchanges;
  st.srcQmp = await connectQmp(src, f.source);
  rec.source.events = st.srcQmp.events;
  rec.source.exchanges = st.srcQmp.exchanges;
  rec.qemuVersion = st.srcQmp.version;
  const srcQmp = st.srcQmp;
  const dstQmp = st.dstQmp;

  await dstQmp.execute('migrate-set-capabilities', { capabilities: capabilitiesFor(scn, 'destination') });
  if (scn.migration.capabilities.includes('multifd'))
    await dstQmp.execute('migrate-set-parameters', { 'multifd-channels': scn.migration.multifdChannels });
  const port = await listenIncoming(dstQmp);
  rec.uri = `tcp:127.0.0.1:${port}`;

  progress({ phase: 'boot', status: null, transferredBytes: 0, remainingBytes: 0, passes: 0, mbps: 0 });
  await waitForSerial(
    f.source.serial,
    /LAB_WORKLOAD_START/,
    (opts.bootTimeoutS ?? 90) * 1000,
    src,
    opts.signal,
  );
  rec.workloadStartUs = nowUs();
  await sleep(opts.warmupMs ?? 500);
  checkAbort();
  if (!src.alive)
    throw new LabFailure(
      `source QEMU ${describeExit(src.exit)} before the migration: ${tail(f.source.stderr)}`,
    );

  await srcQmp.execute('migrate-set-capabilities', { capabilities: capabilitiesFor(scn, 'source') });
  const params: Record<string, unknown> = {
    // bytes/s; 0 means no limit to QEMU 7.2 (rate_limit_max 0 disables qemu_file_rate_limit)
    'max-bandwidth': Math.round(scn.migration.maxBandwidthMiBps * 1024 * 1024),
    'downtime-limit': Math.max(1, Math.round(scn.migration.downtimeLimitMs)),
  };
  if (scn.migration.capabilities.includes('xbzrle'))
    params['xbzrle-cache-size'] = Math.round(scn.migration.xbzrleCacheMiB * 1024 * 1024);
  if (scn.migration.capabilities.includes('multifd'))
    params['multifd-channels'] = scn.migration.multifdChannels;
  await srcQmp.execute('migrate-set-parameters', params);
  rec.migrateSentUs = nowUs();
  await srcQmp.execute('migrate', { uri: rec.uri });
  await watch(st, progress);
  if (rec.outcome !== 'completed') return;

  // The destination finishes loading a moment after the source reports completed.
  const dstDone = await dstQmp.waitEvent(
    (e) => e.event === 'MIGRATION' && TERMINAL.has(String(e.data.status)),
    15_000,
  );
  if (dstDone?.data.status !== 'completed') {
    rec.outcome = 'failed';
    rec.message = `the source completed but the destination ${dstDone ? `reported ${dstDone.data.status}` : `did not finish loading (${describeExit(dst.exit)})`}`;
    return;
  }
  progress({
    phase: 'compare',
    status: 'completed',
    transferredBytes: 0,
    remainingBytes: 0,
    passes: 0,
    mbps: 0,
  });
  await compareRam(st);
  if (scn.disk?.migrate) await compareDisk(st);
}

/** Connect to a just-started QEMU's QMP socket; a LabFailure naming its exit and stderr if it cannot. */
export async function connectQmp(p: QemuProcess, f: QemuFiles): Promise<QmpClient> {
  try {
    return await QmpClient.connect(f.qmp, { timeoutMs: 15_000, alive: () => p.alive });
  } catch (err) {
    await Promise.race([p.exited, sleep(200, undefined, { ref: false })]);
    throw new LabFailure(
      `${p.role} QEMU: no QMP (${(err as Error).message}); ${describeExit(p.exit)}: ${tail(f.stderr)}`,
    );
  }
}

/** migrate-incoming on a free loopback port, retrying if another process takes the port first. */
async function listenIncoming(dst: QmpClient): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      await dst.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${port}` });
      return port;
    } catch (err) {
      if (!(err instanceof QmpError) || attempt >= 4) throw err;
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Wait for `marker` on the guest's serial log; a LabFailure if the workload fails, the guest panics,
 * QEMU exits or the timeout passes (LabAborted on `signal`). */
export async function waitForSerial(
  file: string,
  marker: RegExp,
  timeoutMs: number,
  p: QemuProcess,
  signal?: AbortSignal,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (marker.test(text)) return;
    const exit = /LAB_WORKLOAD_EXIT rc=\d+/.exec(text);
    if (exit) throw new LabFailure(`the guest workload failed to start (${exit[0]}): ${lastLines(text, 3)}`);
    if (/Kernel panic/.test(text))
      throw new LabFailure(`the source guest panicked while booting: ${lastLines(text, 3)}`);
    if (!p.alive) throw new LabFailure(`source QEMU ${describeExit(p.exit)} while booting`);
    if (signal?.aborted) throw new LabAborted('interrupted while the guest booted');
    if (Date.now() > deadline)
      throw new LabFailure(
        `the guest did not start its workload within ${timeoutMs / 1000} s (serial: ${lastLines(text, 3) || 'empty'})`,
      );
    await sleep(100);
  }
}

/** Poll query-migrate until a terminal status; cancel at the timeout or on abort; notice a dead source. */
async function watch(st: RunState, progress: (p: Omit<LabProgress, 'elapsedS'>) => void): Promise<void> {
  const { scn, opts, rec } = st;
  const src = st.src!;
  const qmp = st.srcQmp!;
  const t0 = rec.migrateSentUs!;
  const period = opts.sampleIntervalMs ?? 50;
  let cancelReason: 'timeout' | 'interrupted' | null = null;
  let killed = false;
  for (;;) {
    const tick = Date.now();
    const elapsedMs = (nowUs() - t0) / 1000;
    if (opts.killSourceAfterMs !== undefined && !killed && elapsedMs >= opts.killSourceAfterMs) {
      killed = true;
      src.kill('SIGKILL');
    }
    if (cancelReason === null && (elapsedMs >= scn.migration.timeoutS * 1000 || opts.signal?.aborted)) {
      cancelReason = opts.signal?.aborted ? 'interrupted' : 'timeout';
      rec.cancelSentUs = nowUs();
      try {
        await qmp.execute('migrate_cancel');
      } catch (err) {
        if (!(err instanceof QmpClosedError)) throw err;
      }
    }
    let info: QueryMigrateInfo;
    try {
      info = await qmp.execute<QueryMigrateInfo>('query-migrate');
    } catch (err) {
      if (!(err instanceof QmpClosedError)) throw err;
      rec.migrationEndUs = nowUs();
      const exit = await src.stop(2000);
      const last = rec.samples[rec.samples.length - 1]?.info.status ?? 'setup';
      rec.outcome = 'failed';
      rec.message = `source QEMU (pid ${src.pid}) ${describeExit(exit)} during the migration (last status ${last}, ${Math.round(elapsedMs)} ms after migrate)`;
      return;
    }
    rec.samples.push({ tUs: qmp.exchanges[qmp.exchanges.length - 1]!.receivedUs!, info });
    const status = info.status ?? 'none';
    progress({
      phase: cancelReason ? 'cancel' : 'migrate',
      status,
      transferredBytes: (info.ram?.transferred ?? 0) + (info.disk?.transferred ?? 0),
      remainingBytes: (info.ram?.remaining ?? 0) + (info.disk?.remaining ?? 0),
      passes: info.ram?.['dirty-sync-count'] ?? 0,
      mbps: info.ram?.mbps ?? 0,
    });
    if (TERMINAL.has(status)) {
      rec.migrationEndUs = nowUs();
      if (status === 'completed') await settle(qmp, rec, info);
      if (status === 'completed') {
        rec.outcome = 'completed';
        rec.message = null;
      } else if (status === 'cancelled' && cancelReason) {
        rec.outcome = cancelReason === 'timeout' ? 'timeout' : 'cancelled';
        rec.message =
          cancelReason === 'timeout'
            ? `did not converge within ${scn.migration.timeoutS} s (${lastRemaining(rec)}); cancelled with migrate_cancel`
            : 'interrupted (SIGINT): cancelled with migrate_cancel';
      } else {
        rec.outcome = 'failed';
        rec.message = `QEMU reported ${status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`;
      }
      return;
    }
    if (rec.cancelSentUs !== null && nowUs() - rec.cancelSentUs > 15e6) {
      rec.migrationEndUs = nowUs();
      throw new LabFailure(`migrate_cancel did not finish within 15 s (status ${status})`);
    }
    await sleep(Math.max(0, period - (Date.now() - tick)));
  }
}

/**
 * QEMU 7.2 sets COMPLETED in migration_completion() but fills total-time and downtime later, in
 * migration_calculate_complete(): a poll in between reads 0 for both. Poll until they are set.
 */
async function settle(qmp: QmpClient, rec: LabRecord, first: QueryMigrateInfo): Promise<void> {
  let info = first;
  for (let i = 0; i < 50 && !info['total-time']; i++) {
    await sleep(10);
    info = await qmp.execute<QueryMigrateInfo>('query-migrate');
    rec.samples.push({ tUs: qmp.exchanges[qmp.exchanges.length - 1]!.receivedUs!, info });
  }
}

function lastRemaining(rec: LabRecord): string {
  for (let i = rec.samples.length - 1; i >= 0; i--) {
    const ram = rec.samples[i]!.info.ram;
    if (ram)
      return `${Math.round(ram.remaining! / 4096)} dirty pages left, ${ram['dirty-sync-count']} passes`;
  }
  return 'no progress reported';
}

async function compareRam(st: RunState): Promise<void> {
  const startUs = nowUs();
  const size = guestRamBytes(st.scn);
  const a = join(st.tmp, 'source.mem');
  const b = join(st.tmp, 'destination.mem');
  // Both guests are paused: the source in postmigrate, the destination because it was started with -S.
  await st.srcQmp!.execute('pmemsave', { val: 0, size, filename: a });
  await st.dstQmp!.execute('pmemsave', { val: 0, size, filename: b });
  const d = compareFiles(a, b);
  removeQuietly(a, b);
  st.rec.ramCompare = { startUs, endUs: nowUs(), pages: d.units, differing: d.differing, first: d.first };
  if (d.differing > 0) {
    st.rec.outcome = 'failed';
    st.rec.message = `QEMU reported completed but ${d.differing} of ${d.units} RAM pages differ between source and destination (first at page ${d.first[0]})`;
  }
}

async function compareDisk(st: RunState): Promise<void> {
  const startUs = nowUs();
  // The destination's qcow2 metadata is still cached in its QEMU: flush it before reading the file.
  await st.dstQmp!.execute('human-monitor-command', { 'command-line': 'qemu-io disk0 flush' });
  const c = await compareDisks(st.lab.qemuImg, st.f.source.disk!, st.f.destination.disk!, st.tmp);
  st.rec.diskCompare = { startUs, endUs: nowUs(), ...c };
  if (!c.identical && st.rec.outcome === 'completed') {
    st.rec.outcome = 'failed';
    st.rec.message = `QEMU reported completed but the disks differ in ${c.differingChunks} MiB chunks (${c.output})`;
  }
}

/** Dumps are as large as guest RAM: drop them as soon as they are compared. */
function removeQuietly(...paths: string[]): void {
  for (const p of paths) rmSync(p, { force: true });
}

/** Quit both QEMUs (QMP quit, then SIGKILL after 3 s) and close the sockets. */
async function shutdown(st: RunState): Promise<void> {
  const sides: [QemuProcess | null, QmpClient | null, SideRecord][] = [
    [st.src, st.srcQmp, st.rec.source],
    [st.dst, st.dstQmp, st.rec.destination],
  ];
  await Promise.all(
    sides.map(async ([p, q]) => {
      if (q && !q.closed && p?.alive)
        await Promise.race([q.execute('quit').catch(() => {}), sleep(1000, undefined, { ref: false })]);
      q?.close();
    }),
  );
  await Promise.all(
    sides.map(async ([p, , side]) => {
      if (!p) return;
      // Record how the process ended before this shutdown, when it had ended by itself.
      const before = p.exit;
      await p.stop(3000);
      side.exit = before ? describeExit(before) : 'stopped by the lab';
    }),
  );
}

function readTraces(f: RunState['f']): { source: TraceLog | null; destination: TraceLog | null } {
  const read = (file: string) => (existsSync(file) ? parseTraceLog(readFileSync(file, 'utf8')) : null);
  return { source: read(f.source.trace), destination: read(f.destination.trace) };
}

/** The guest's last heartbeat rate (MiB/s of page writes), or null. */
function wssPlacement(serial: string): PageRuns | null {
  try {
    return existsSync(serial) ? parseWssRuns(readFileSync(serial, 'utf8')) : null;
  } catch {
    return null;
  }
}

function guestRate(serial: string): number | null {
  if (!existsSync(serial)) return null;
  const all = [...readFileSync(serial, 'utf8').matchAll(/LAB_HB writes=\d+ disk_writes=\d+ rate=([\d.]+)/g)];
  const last = all[all.length - 1];
  return last ? Number(last[1]) : null;
}

/** Copy the raw logs (serial consoles, trace-event logs, QEMU stderr) next to result.json. */
function keepLogs(f: RunState['f'], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const out: string[] = [];
  for (const side of ['source', 'destination'] as const) {
    for (const file of [f[side].serial, f[side].trace, f[side].stderr]) {
      if (!existsSync(file)) continue;
      const to = join(outDir, file.slice(file.lastIndexOf('/') + 1));
      copyFileSync(file, to);
      out.push(to);
    }
  }
  return out;
}

/** The last lines of a log file, for a message. */
export function tail(file: string): string {
  return existsSync(file) ? lastLines(readFileSync(file, 'utf8'), 3) || '(no output)' : '(no output)';
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(0, 400);
}
