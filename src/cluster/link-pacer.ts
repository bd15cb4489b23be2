/**
 * One bandwidth cap for every worker of a cluster run: a virtual-time token bucket in
 * Redis (the BandwidthLimiter algorithm, on Redis's clock), leased in chunks. A worker
 * asks Redis for a lease of `leaseBytes` and spends it locally, so Redis sees one request
 * per lease, not per buffer; a lease granted ahead of the bucket's clock is waited out
 * before its bytes are sent. What is leased and left unspent when a shard ends (at most
 * one lease per worker) is lost to the run, so the total stays under the cap.
 */
import type { Redis } from 'ioredis';
import { sleep } from '../lib/abort.js';
import type { Pacer } from '../lib/bandwidth.js';

// KEYS[1] bucket hash; ARGV rate (bytes/s), bytes, burst (ms). Returns ms to wait (<= 0: none).
const LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local nextFree = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
local burst = tonumber(ARGV[3])
if nextFree < now - burst then nextFree = now - burst end
local wait = nextFree - now
nextFree = nextFree + tonumber(ARGV[2]) * 1000 / tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'next', string.format('%.3f', nextFree))
redis.call('HINCRBY', KEYS[1], 'leased', ARGV[2])
redis.call('PEXPIRE', KEYS[1], 604800000)
return math.ceil(wait)
`;

export class RedisLinkPacer implements Pacer {
  private lease = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    /** Bytes per second in force now; Infinity: unlimited. */
    private readonly rate: () => number,
    private readonly burstMs = 100,
  ) {}

  /** A lease of ~1/20 s of the rate, within 64 KiB–4 MiB: small against the cap, few Redis calls. */
  static leaseBytes(rate: number): number {
    return Math.min(4 * 1024 * 1024, Math.max(64 * 1024, Math.floor(rate / 20)));
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    // one lease request at a time per worker, in arrival order
    const p = this.chain.then(() => this.takeInOrder(bytes, signal));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async takeInOrder(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate();
    if (!Number.isFinite(rate) || rate <= 0) return;
    if (this.lease >= bytes) {
      this.lease -= bytes;
      return;
    }
    const chunk = Math.max(bytes - this.lease, RedisLinkPacer.leaseBytes(rate));
    const wait = Number(await this.redis.eval(LEASE, 1, this.key, String(rate), String(chunk), String(this.burstMs)));
    this.lease += chunk - bytes;
    if (wait > 0) await sleep(wait, signal);
  }
}
