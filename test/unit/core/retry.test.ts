import { describe, expect, it } from 'vitest';
import { TransientError } from '../../../src/core/errors.js';
import { retry, retriesExhausted } from '../../../src/lib/retry.js';

const fast = { baseDelayMs: 0, maxDelayMs: 0, isRetryable: (e: unknown) => e instanceof TransientError };

describe('retry', () => {
  it('retries a retryable error up to the attempts given, then throws it', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new TransientError('reset');
      }, { ...fast, attempts: 3 }),
    ).rejects.toThrow('reset');
    expect(calls).toBe(3);
  });

  it('nested loops never multiply attempts: an error the inner loop gave up on is not retried by the outer', async () => {
    let requests = 0;
    const request = () =>
      retry(async () => {
        requests++;
        throw new TransientError('throttled');
      }, { ...fast, attempts: 3 });
    let files = 0;
    const err = await retry(async () => {
      files++;
      return request();
    }, { ...fast, attempts: 3 }).catch((e: unknown) => e);
    expect(requests).toBe(3); // not 9
    expect(files).toBe(1);
    expect(retriesExhausted(err)).toBe(true);
  });

  it('an outer loop still retries what the inner loop did not (e.g. a check after the request)', async () => {
    let files = 0;
    const v = await retry(async () => {
      files++;
      if (files < 3) throw new TransientError('source changed while read');
      return 'ok';
    }, { ...fast, attempts: 3 });
    expect(v).toBe('ok');
    expect(files).toBe(3);
  });
});
