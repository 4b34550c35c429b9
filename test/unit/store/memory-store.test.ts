import { MemoryDisk, MemoryStore } from '@switchyard/broker/internal';
import { CRASH_SCENARIOS } from './crash-scenarios.js';
import { storeContract } from './store.contract.js';

// A location is a MemoryDisk; a crash loses the batch not yet committed (MemoryStore.crash).
storeContract('MemoryStore', () => {
  const disk = new MemoryDisk();
  return Promise.resolve({
    open: () => MemoryStore.open(disk),
    crash: async (scenario) => {
      const store = MemoryStore.open(disk);
      await CRASH_SCENARIOS[scenario](store);
      store.crash();
    },
    dispose: () => Promise.resolve(),
  });
});
