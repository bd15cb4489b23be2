/** hybridsync.yaml sections owned by governance (environments, classification, policy, audit, tls). */
import { z } from 'zod';

export const governanceSchema = z.object({});
