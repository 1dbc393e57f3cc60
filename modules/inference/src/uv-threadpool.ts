// Imported first by main.ts (and the benchmark): sizes libuv's pool from the thread budget before anything uses it.
import { availableParallelism } from 'node:os';
import { applyDecodeThreads } from './worker/thread-budget.js';

applyDecodeThreads(process.env, availableParallelism());
