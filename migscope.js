#!/usr/bin/env node
// The `migscope` binary: loads the TypeScript sources through tsx, then runs the command registry.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
