// Entry of a sweep pool worker thread. Plain JavaScript so that Node can start it without a loader: it
// registers tsx, imports the task module (TypeScript) named in workerData, says it is ready, then answers
// each {id, input} message with {id, ok, output} or {id, ok: false, error}.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const mod = await import(workerData.module);
const fn = mod[workerData.exportName];
if (typeof fn !== 'function')
  throw new Error(`${workerData.module} does not export a function ${workerData.exportName}`);
parentPort.on('message', async ({ id, input }) => {
  try {
    const output = await fn(input);
    parentPort.postMessage({ id, ok: true, output });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: oneLine(err) });
  }
});
parentPort.postMessage({ ready: true });

function oneLine(err) {
  const text =
    err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return text.split('\n')[0];
}
