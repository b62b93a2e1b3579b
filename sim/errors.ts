/** Errors raised by the simulation kernel. */

/** A kernel API was called with an impossible argument; the message names the value. */
export class SimArgumentError extends Error {
  override name = 'SimArgumentError';
}

/** An event was triggered twice, or used in a state that forbids it. */
export class SimStateError extends Error {
  override name = 'SimStateError';
}

/** Thrown into a process by `Process.interrupt(cause)`. */
export class Interrupt extends Error {
  override name = 'Interrupt';
  constructor(override readonly cause: unknown) {
    super(`interrupted: ${String(cause)}`);
  }
}

/** `run()` was asked to stop at an event that can no longer happen (the queue ran dry first). */
export class SimDeadlockError extends Error {
  override name = 'SimDeadlockError';
}

/**
 * Bad input from a user (a flag, a scenario, a log): the CLI prints the message as one line and exits 2.
 * The message names the file and the key or value at fault.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
