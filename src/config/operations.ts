/** hybridsync.yaml sections owned by operations (jobs, links, schedules, server). */
import { z } from 'zod';

export const operationsSchema = z.object({});
