/**
 * Correctness checks after a completed migration: source and destination RAM compared page by page (from
 * pmemsave dumps) and disks compared with qemu-img. A migration that reports "completed" can still be
 * wrong (real-lab.md §2.6), so the lab never trusts the status alone.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PAGE = 4096;
const CHUNK = 1 << 20;

/** How two memory (or raw disk) images differ. */
export interface ImageDiff {
  /** Units (pages or chunks) compared. */
  units: number;
  differing: number;
  /** Indices of the first differing units (at most 16). */
  first: number[];
}

/** Compare two files unit by unit (`unit` bytes); a missing tail counts as differing. */
export function compareFiles(a: string, b: string, unit = PAGE): ImageDiff {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.alloc(CHUNK);
  const bb = Buffer.alloc(CHUNK);
  const diff: ImageDiff = { units: 0, differing: 0, first: [] };
  try {
    for (let pos = 0; ; pos += CHUNK) {
      const na = readSync(fa, ba, 0, CHUNK, pos);
      const nb = readSync(fb, bb, 0, CHUNK, pos);
      const n = Math.max(na, nb);
      if (n === 0) break;
      if (na < n) ba.fill(0xee, na, n);
      if (nb < n) bb.fill(0xef, nb, n);
      for (let off = 0; off < n; off += unit) {
        const end = Math.min(off + unit, n);
        if (ba.compare(bb, off, end, off, end) !== 0) {
          diff.differing++;
          if (diff.first.length < 16) diff.first.push((pos + off) / unit);
        }
        diff.units++;
      }
      if (n < CHUNK) break;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
  return diff;
}

/** Result of `qemu-img compare`. */
export interface DiskCompare {
  identical: boolean;
  /** qemu-img's own words ("Images are identical." or "Content mismatch at offset ..."). */
  output: string;
  /** 1 MiB chunks that differ (counted only when the images differ), else 0. */
  differingChunks: number;
}

/** Compare two qcow2 images; `-U` because both QEMUs still hold them open (paused). */
export async function compareDisks(
  qemuImg: string,
  a: string,
  b: string,
  scratch: string,
): Promise<DiskCompare> {
  try {
    const r = await run(qemuImg, ['compare', '-U', '-f', 'qcow2', '-F', 'qcow2', a, b]);
    return { identical: true, output: r.stdout.trim(), differingChunks: 0 };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code !== 1)
      throw new Error(`qemu-img compare failed: ${(e.stderr || e.stdout || String(err)).trim()}`);
    // qemu-img names only the first mismatch; count chunks on raw copies to say how much differs.
    const ra = `${scratch}/a.raw`;
    const rb = `${scratch}/b.raw`;
    await run(qemuImg, ['convert', '-U', '-f', 'qcow2', '-O', 'raw', a, ra]);
    await run(qemuImg, ['convert', '-U', '-f', 'qcow2', '-O', 'raw', b, rb]);
    const d = compareFiles(ra, rb, CHUNK);
    return { identical: false, output: (e.stdout ?? '').trim(), differingChunks: d.differing };
  }
}

/** Create a qcow2 image of `sizeMiB` with its first `allocatedMiB` written (so block migration has data). */
export async function createDisk(
  qemuImg: string,
  file: string,
  sizeMiB: number,
  allocatedMiB: number,
): Promise<void> {
  await run(qemuImg, ['create', '-q', '-f', 'qcow2', file, `${sizeMiB}M`]);
  const bytes = Math.floor((allocatedMiB * CHUNK) / PAGE) * PAGE;
  if (bytes > 0) {
    // qemu-io ships with qemu-utils beside qemu-img.
    const qemuIo = qemuImg.replace(/qemu-img$/, 'qemu-io');
    await run(qemuIo, ['-f', 'qcow2', '-c', `write -q -P 0x5a 0 ${bytes}`, file]);
  }
}
