/** The sweep engine: designs and their expansion, content keys, the JSONL store, the worker pool, progress and Slurm. */
export * from './csv.ts';
export * from './design.ts';
export * from './expand.ts';
export * from './hash.ts';
export * from './pool.ts';
export * from './progress.ts';
export * from './slurm.ts';
export * from './store.ts';
