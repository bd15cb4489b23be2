/** A run between two in-memory backends, with every event it emits collected. */
import { MemoryBackend } from '../../src/backends/memory/index.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { StateDb } from '../../src/sync/state.js';

export function memoryRun() {
  const src = new MemoryBackend('mem://src');
  const dst = new MemoryBackend('mem://dst');
  const events: SyncEvent[] = [];
  return { src, dst, events, state: new StateDb(':memory:'), onEvent: (e: SyncEvent) => void events.push(e) };
}
