/**
 * JSON input files a scenario points at (vm.layout, workload.replay), read once and kept while unchanged:
 * a sweep simulates thousands of runs from the same few files.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../sim/errors.ts';

const cache = new Map<string, { mtimeMs: number; value: unknown }>();

/**
 * `decode(parsed JSON)` of `file`, cached by key, path and modification time. A missing file or bad JSON is a
 * UsageError naming `key` and the file; `decode` throws its own for content it rejects.
 */
export function readJsonFile<T>(file: string, key: string, decode: (raw: unknown) => T): T {
  const path = resolve(file);
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    throw new UsageError(`${key}: no such file ${file}`);
  }
  // One file can be read for two keys (a recorded run is both a replay and a layout), decoded each way.
  const id = `${key}\0${path}`;
  const hit = cache.get(id);
  if (hit && hit.mtimeMs === mtimeMs) return hit.value as T;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${key}: ${file}: not JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const value = decode(raw);
  if (cache.size >= 32) cache.delete(cache.keys().next().value!);
  cache.set(id, { mtimeMs, value });
  return value;
}
