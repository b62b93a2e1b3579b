/**
 * The guest layout probe (`migscope lab layout`): boot the lab's source guest alone with the scenario's
 * working set but no writes, and measure where the working set sits in guest-physical memory (the guest
 * program prints its buffer's page frames from /proc/self/pagemap) and which pages are zero when the
 * workload starts (a pmemsave dump of the paused guest). The result is a models/guest/layout.ts layout.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkLayout,
  type GuestLayout,
  LAYOUT_FORMAT,
  type PageRuns,
  parsePageRuns,
  runsLength,
} from '../../models/guest/layout.ts';
import type { Scenario } from '../../models/scenario.ts';
import { PAGES_PER_MIB } from '../../models/workloads/page-writes.ts';
import { createDisk } from './compare.ts';
import {
  checkLabScenario,
  findLab,
  guestCmdline,
  guestRamBytes,
  memoryArg,
  type QemuFiles,
  qemuArgs,
  TRACE_EVENTS,
} from './guest.ts';
import { QemuProcess, registerTempDir, removeTempDir } from './qemu-process.ts';
import type { QmpClient } from './qmp.ts';
import { connectQmp, LabAborted, LabFailure, waitForSerial } from './run.ts';

const PAGE = 4096;

/**
 * The working set's page frames from the guest's `LAB_WSS_PFN_RUNS pages=N runs=R pfn+count,...` serial
 * line, in buffer order; null if the serial has no such line. Throws if a page was unmapped (`-`), the
 * line says the pagemap was unavailable, or the runs do not add up to N pages (a garbled line).
 */
export function parseWssRuns(serialText: string): PageRuns | null {
  const unavailable = /^LAB_WSS_PFN_RUNS unavailable: ?(.*?)\r?$/m.exec(serialText);
  const m = /^LAB_WSS_PFN_RUNS pages=(\d+) runs=(\d+) ([^\r\n]*?)\r?$/m.exec(serialText);
  if (!m) {
    if (unavailable) throw new Error(`the guest could not read its page map: ${unavailable[1]}`);
    return null;
  }
  const pages = Number(m[1]);
  const nRuns = Number(m[2]);
  if (m[3]!.split(',').includes('-'))
    throw new Error('LAB_WSS_PFN_RUNS: a working-set page is not mapped (-)');
  let runs: PageRuns;
  try {
    runs = parsePageRuns(m[3]!);
  } catch (err) {
    throw new Error(`LAB_WSS_PFN_RUNS: ${(err as Error).message}`);
  }
  const total = runsLength(runs);
  if (total !== pages)
    throw new Error(`LAB_WSS_PFN_RUNS: the runs hold ${total} pages, the line says pages=${pages}`);
  if (runs.length !== nRuns)
    throw new Error(`LAB_WSS_PFN_RUNS: ${runs.length} runs, the line says runs=${nRuns}`);
  return runs;
}

/** The pages (4 KiB) among the first `pages` of a RAM dump that hold only zero bytes, as runs. */
export function zeroRuns(dumpFile: string, pages: number): PageRuns {
  const chunkPages = 1024; // 4 MiB reads
  const buf = Buffer.alloc(chunkPages * PAGE);
  const words = new BigUint64Array(buf.buffer, buf.byteOffset, buf.length / 8);
  const runs: PageRuns = [];
  const fd = openSync(dumpFile, 'r');
  try {
    for (let first = 0; first < pages; first += chunkPages) {
      const n = Math.min(chunkPages, pages - first);
      let got = 0;
      while (got < n * PAGE) {
        const r = readSync(fd, buf, got, n * PAGE - got, first * PAGE + got);
        if (r === 0) break;
        got += r;
      }
      if (got < n * PAGE)
        throw new Error(`${dumpFile}: ${Math.floor((first * PAGE + got) / PAGE)} pages, expected ${pages}`);
      for (let i = 0; i < n; i++) {
        let zero = true;
        for (let w = i * (PAGE / 8), end = w + PAGE / 8; w < end; w++)
          if (words[w] !== 0n) {
            zero = false;
            break;
          }
        if (!zero) continue;
        const p = first + i;
        const last = runs[runs.length - 1];
        if (last && last[0] + last[1] === p) last[1]++;
        else runs.push([p, 1]);
      }
    }
  } finally {
    closeSync(fd);
  }
  return runs;
}

/** Options of `probeGuestLayout`. */
export interface ProbeOptions {
  /** The built guest (default .cache/lab). */
  labDir?: string;
  /** Abort the probe (SIGINT): QEMU is stopped, the temporary files removed. */
  signal?: AbortSignal;
  /** Give up on the guest booting after this long (default 90 s). */
  bootTimeoutS?: number;
  /** Let the guest settle this long after its workload starts, as `runLab` does before migrating (500 ms). */
  warmupMs?: number;
}

/**
 * Measure the layout of `scn`'s lab guest: boot the source QEMU alone (same command line as `runLab`,
 * but the workload writes nothing: no page or disk writes), wait for the workload to start, pause the
 * guest, dump its RAM and read the working set's placement from the serial console. Throws UsageError
 * for what the lab cannot run, LabFailure when the guest or QEMU fails, LabAborted on `signal`.
 */
export async function probeGuestLayout(scn: Scenario, opts: ProbeOptions = {}): Promise<GuestLayout> {
  checkLabScenario(scn);
  const lab = findLab(opts.labDir);
  const probe: Scenario = { ...scn, workload: { ...scn.workload, dirtyRateMiBps: 0, diskWriteMiBps: 0 } };
  // Same page counts as guestCmdline (and the simulator).
  const pages = Math.round(scn.vm.memoryMiB * PAGES_PER_MIB);
  const wssPages =
    scn.workload.kind === 'idle' ? 0 : Math.min(pages, Math.round(scn.workload.wssMiB * PAGES_PER_MIB));
  const tmp = mkdtempSync(join(tmpdir(), 'migscope-lab-layout-'));
  registerTempDir(tmp);
  const f: QemuFiles = {
    qmp: join(tmp, 'source.qmp'),
    serial: join(tmp, 'source-serial.log'),
    trace: join(tmp, 'source-trace.log'),
    stderr: join(tmp, 'source-stderr.log'),
    // The virtio-blk device and its modules change where the kernel puts things: keep the disk.
    disk: probe.disk ? join(tmp, 'source.qcow2') : null,
  };
  let src: QemuProcess | null = null;
  let qmp: QmpClient | null = null;
  try {
    const traceEvents = join(tmp, 'trace-events.txt');
    writeFileSync(traceEvents, `${TRACE_EVENTS.join('\n')}\n`);
    if (probe.disk) await createDisk(lab.qemuImg, f.disk!, probe.disk.sizeMiB, probe.disk.allocatedMiB);
    if (opts.signal?.aborted) throw new LabAborted('interrupted before the guest booted');
    src = new QemuProcess('source', lab.qemu, qemuArgs(probe, lab, f, traceEvents, false), f.stderr);
    qmp = await connectQmp(src, f);
    await waitForSerial(f.serial, /LAB_WORKLOAD_START/, (opts.bootTimeoutS ?? 90) * 1000, src, opts.signal);
    await sleep(opts.warmupMs ?? 500);
    if (opts.signal?.aborted) throw new LabAborted('interrupted while the guest ran');
    await qmp.execute('stop');
    const dump = join(tmp, 'ram.mem');
    await qmp.execute('pmemsave', { val: 0, size: guestRamBytes(probe), filename: dump });
    // QEMU's RAM is 8 KiB larger than the simulator's (RAM_EXTRA_KIB): the last 2 pages are dropped.
    const zero = zeroRuns(dump, pages);
    rmSync(dump, { force: true });
    let placement: PageRuns | null;
    try {
      placement = parseWssRuns(readFileSync(f.serial, 'utf8'));
    } catch (err) {
      throw new LabFailure(`the guest's working-set placement: ${(err as Error).message}`);
    }
    if (wssPages === 0) placement = [];
    else if (placement === null)
      throw new LabFailure('the guest printed no LAB_WSS_PFN_RUNS line (is the lab guest up to date?)');
    const layout: GuestLayout = {
      format: LAYOUT_FORMAT,
      memoryMiB: scn.vm.memoryMiB,
      wssPages,
      placement,
      zero,
      provenance: {
        measuredAt: new Date().toISOString(),
        qemu: qmp.version,
        memoryArg: memoryArg(probe),
        cmdline: guestCmdline(probe),
        command: 'migscope lab layout',
      },
    };
    checkLayout(layout, pages, wssPages, `${scn.name}: layout probe`);
    return layout;
  } finally {
    if (qmp && !qmp.closed && src?.alive)
      await Promise.race([qmp.execute('quit').catch(() => {}), sleep(1000, undefined, { ref: false })]);
    qmp?.close();
    await src?.stop(3000);
    removeTempDir(tmp);
  }
}
