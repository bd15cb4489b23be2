import type { Workload } from './planner.js';
export async function workloadsFromJobs(_config?: string, _state?: string): Promise<Workload[]> {
  throw new Error('not yet');
}
