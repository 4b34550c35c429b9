/*
 * Child process for the LMDB store's crash-shaped contract cases: opens the store in argv[2],
 * runs the crash scenario named by argv[3], then kills itself with SIGKILL — no close, no flush.
 */
import { LmdbStore } from '@switchyard/broker/internal';
import { CRASH_SCENARIOS, type CrashScenario } from './crash-scenarios.js';

const [dir, name] = process.argv.slice(2) as [string, CrashScenario];
const store = LmdbStore.open({ path: dir });
await CRASH_SCENARIOS[name](store);
process.kill(process.pid, 'SIGKILL');
