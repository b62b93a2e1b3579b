// A task module for pool tests: doubles a number, throws on negative input, kills its thread on 'crash'.
import { threadId } from 'node:worker_threads';

const typed: (x: number) => number = (x) => 2 * x;

export function runTask(input: number | 'crash' | 'slow'): { value: number; thread: number } {
  if (input === 'crash') process.exit(3);
  if (input === 'slow') {
    const end = performance.now() + 200;
    while (performance.now() < end);
    return { value: -1, thread: threadId };
  }
  if (input < 0) throw new RangeError(`negative input ${input}\nsecond line`);
  return { value: typed(input), thread: threadId };
}

export const notAFunction = 1;
