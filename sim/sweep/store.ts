/**
 * The result store: JSON Lines, one run record per line, appended as runs finish. One write per record
 * means a process killed with SIGKILL loses only runs in flight, and at worst leaves a torn last line,
 * which reading skips and the next writer cuts off before appending.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** Whether a run produced an output or an error. */
export type RunStatus = 'ok' | 'error';

/** One stored run, keyed by the content hash of its input. Callers may add fields (parameters, seed, ...). */
export interface RunRecord<O = unknown> {
  key: string;
  status: RunStatus;
  output?: O;
  /** One line: why the run failed. */
  error?: string;
  /** The failure was the worker dying, not the run: a rerun tries again. */
  crashed?: boolean;
  [field: string]: unknown;
}

/** What reading a store found. */
export interface StoreContents<O = unknown> {
  records: RunRecord<O>[];
  /** 1-based numbers of lines that are not a record (skipped). */
  badLines: number[];
  /** The file ended in a partial line (an interrupted append); it was skipped. */
  tornTail: boolean;
}

function isRecord(v: unknown): v is RunRecord {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RunRecord).key === 'string' &&
    ((v as RunRecord).status === 'ok' || (v as RunRecord).status === 'error')
  );
}

/** Read every record of a store; a missing file is an empty store. Never throws on bad lines. */
export function readStore<O = unknown>(file: string): StoreContents<O> {
  if (!existsSync(file)) return { records: [], badLines: [], tornTail: false };
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const records: RunRecord<O>[] = [];
  const badLines: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = parseLine(line);
    if (rec) records.push(rec as RunRecord<O>);
    else badLines.push(i + 1);
  });
  let tornTail = false;
  if (tail.trim() !== '') {
    // A last line without its newline is an append cut short, even when it happens to parse.
    tornTail = true;
  }
  return { records, badLines, tornTail };
}

function parseLine(line: string): RunRecord | null {
  try {
    const v: unknown = JSON.parse(line);
    return isRecord(v) ? v : null;
  } catch {
    return null;
  }
}

/** Appends records to a store, one `write` per record. */
export class StoreWriter {
  private fd: number;

  /** Open `file` for appending (creating folders), first cutting off a torn last line if there is one. */
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(file, 'a+');
    repairTail(this.fd);
  }

  /** Append one record as one line. */
  append(rec: RunRecord): void {
    writeSync(this.fd, `${JSON.stringify(rec)}\n`);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Truncate the file behind `fd` to just after its last newline (no-op when it ends in one). */
function repairTail(fd: number): void {
  const size = fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.alloc(Math.min(size, 1 << 16));
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(10);
    if (nl >= 0) {
      if (start + nl + 1 !== size) ftruncateSync(fd, start + nl + 1);
      return;
    }
    end = start;
  }
  ftruncateSync(fd, 0);
}

/** How much a record is worth keeping: per key, the highest rank wins, then the later record. */
export type RecordRank = (rec: RunRecord) => number;

/** The default rank: a successful run beats a failed one. */
export const rankByStatus: RecordRank = (r) => (r.status === 'ok' ? 1 : 0);

/** The record to keep per key, in first-seen key order. */
export function latestByKey<O>(
  records: Iterable<RunRecord<O>>,
  rank: RecordRank = rankByStatus,
): Map<string, RunRecord<O>> {
  const byKey = new Map<string, RunRecord<O>>();
  for (const r of records) {
    const prev = byKey.get(r.key);
    if (!prev || rank(r) >= rank(prev)) byKey.set(r.key, r);
  }
  return byKey;
}

/** Replace `file` with `records`, atomically (write a temporary file, then rename it over). */
export function writeStoreAtomic(file: string, records: Iterable<RunRecord>): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  let text = '';
  for (const r of records) text += `${JSON.stringify(r)}\n`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
