import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  latestByKey,
  type RunRecord,
  readStore,
  StoreWriter,
  writeStoreAtomic,
} from '../../../sim/sweep/store.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'migscope-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rec = (key: string, status: 'ok' | 'error' = 'ok', extra: Partial<RunRecord> = {}): RunRecord => ({
  key,
  status,
  ...(status === 'ok' ? { output: { v: key } } : { error: 'boom' }),
  ...extra,
});

describe('store', () => {
  it('reads a missing file as empty', () => {
    expect(readStore(join(dir, 'none.jsonl'))).toEqual({ records: [], badLines: [], tornTail: false });
  });

  it('appends one line per record and reads them back in order', () => {
    const f = join(dir, 'sub', 'r.jsonl');
    const w = new StoreWriter(f);
    w.append(rec('a'));
    w.append(rec('b', 'error'));
    w.close();
    expect(readFileSync(f, 'utf8').split('\n')).toHaveLength(3);
    expect(readStore(f)).toEqual({ records: [rec('a'), rec('b', 'error')], badLines: [], tornTail: false });
  });

  it('skips a torn last line on read, and cuts it off before the next append', () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, `${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('b')).slice(0, 25)}`);
    expect(readStore(f)).toEqual({ records: [rec('a')], badLines: [], tornTail: true });
    const w = new StoreWriter(f);
    w.append(rec('c'));
    w.close();
    expect(readFileSync(f, 'utf8')).toBe(`${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('c'))}\n`);
    expect(readStore(f).tornTail).toBe(false);
  });

  it('treats a whole record without its newline as torn too (the append did not finish)', () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, JSON.stringify(rec('a')));
    expect(readStore(f).records).toEqual([]);
    new StoreWriter(f).close();
    expect(readFileSync(f, 'utf8')).toBe('');
  });

  it('skips corrupt lines in the middle, reporting their numbers', () => {
    const f = join(dir, 'r.jsonl');
    writeFileSync(f, `${JSON.stringify(rec('a'))}\n{"key":\n\n[1,2]\n${JSON.stringify(rec('b'))}\n`);
    const c = readStore(f);
    expect(c.records.map((r) => r.key)).toEqual(['a', 'b']);
    expect(c.badLines).toEqual([2, 4]);
  });

  it('keeps a success over a failure of the same key, and otherwise the later record', () => {
    const m = latestByKey([
      rec('a'),
      rec('a', 'error'),
      rec('b', 'error', { error: 'one' }),
      rec('b', 'error', { error: 'two' }),
    ]);
    expect(m.get('a')!.status).toBe('ok');
    expect(m.get('b')!.error).toBe('two');
    expect([...m.keys()]).toEqual(['a', 'b']);
  });

  it('replaces a store atomically, leaving no temporary file', () => {
    const f = join(dir, 'r.jsonl');
    appendFileSync(f, 'garbage');
    writeStoreAtomic(f, [rec('x'), rec('y')]);
    expect(readStore(f).records.map((r) => r.key)).toEqual(['x', 'y']);
    expect(readFileSync(f, 'utf8').endsWith('\n')).toBe(true);
  });
});
