/** The discrete-event kernel: clock, events, processes, randomness, spans. It knows nothing of QEMU. */
export { Environment } from './env.ts';
export { Interrupt, SimArgumentError, SimDeadlockError, SimStateError, UsageError } from './errors.ts';
export { allOf, anyOf, NORMAL, Process, type ProcessBody, SimEvent, Timeout, URGENT } from './events.ts';
export * from './time.ts';
