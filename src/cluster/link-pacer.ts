/**
 * One bandwidth cap shared by every worker through Redis, with the link governor's lanes
 * (ops/governor.ts: metadata > artifacts > bulk, weights 16:4:1 unless the link declares
 * its own). The bucket is a hash in Redis, on Redis's clock; workers lease bytes in chunks
 * (one call per lease, not per buffer) and spend them locally.
 *
 * Two rules decide a lease, both in one Lua script:
 * - **The cap**: the link's clock (`next`) advances by bytes / rate with every lease; a
 *   lease is granted only while the link is booked less than `lookahead` ahead, and its
 *   bytes wait until the link's clock reaches them. Leases never exceed the rate.
 * - **The lanes** (start-time fair queuing, as the daemon's governor): each lane has a
 *   virtual finish tag that a lease advances by bytes / weight. When the link has room,
 *   the request of the lane with the earliest tag among the lanes with a request waiting
 *   gets it; a request outranked by another lane's asks again a moment later. So when the
 *   link is saturated, lanes share it by weight (a lower lane keeps its weight's share,
 *   never zero), and a lane alone gets all of it (work-conserving); a lane idle for a while
 *   starts at the current virtual time, with no credit for the idle time.
 *
 * A request "waits" from its first refused ask until it is granted, or for `staleMs` after
 * its last ask (a worker that died). What is leased and left unspent when a worker stops
 * (at most one lease per worker and run) is lost to the run, so the total stays under the cap.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sleep } from '../lib/abort.js';
import type { Pacer } from '../lib/bandwidth.js';
import type { Lane } from '../ops/governor.js';

// KEYS[1] the bucket hash; KEYS[2] the run's hash (bytes leased per run, when ARGV[9] is 1).
// ARGV rate (bytes/s), bytes, burst ms, lookahead ms, lane, requester, stale ms, poll ms,
// count, then the lanes sharing the bucket as name, weight pairs (the requester's among them).
// Returns { 1, ms to wait before sending } or { 0, ms after which to ask again }.
const LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = KEYS[1]
local rate, bytes, burst, lookahead = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lane, me, stale, poll = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local h = {}
local all = redis.call('HGETALL', b)
for i = 1, #all, 2 do h[all[i]] = all[i + 1] end
redis.call('PEXPIRE', b, 604800000)
local mine = 'w:' .. lane .. ':' .. me
local nextFree = tonumber(h['next'] or '0')
if nextFree < now - burst then nextFree = now - burst end
if nextFree - now > lookahead then
  redis.call('HSET', b, mine, string.format('%.3f', now))
  return { 0, math.ceil(nextFree - now - lookahead) }
end
-- lanes with a request waiting (asked within stale ms and not yet served)
local waiting = {}
for f, v in pairs(h) do
  if string.sub(f, 1, 2) == 'w:' then
    if tonumber(v) < now - stale then
      redis.call('HDEL', b, f)
    else
      local l = string.match(f, '^w:([^:]+):')
      if l then waiting[l] = true end
    end
  end
end
local virtual = tonumber(h['virtual'] or '0')
local myWeight, myTag, bestOther = 1, virtual, nil
for i = 10, #ARGV, 2 do
  local l, w = ARGV[i], tonumber(ARGV[i + 1])
  local tag = math.max(virtual, tonumber(h['finish:' .. l] or '0'))
  if l == lane then
    myWeight, myTag = w, tag
  elseif waiting[l] and (bestOther == nil or tag < bestOther) then
    bestOther = tag
  end
end
if bestOther ~= nil and bestOther < myTag then
  redis.call('HSET', b, mine, string.format('%.3f', now))
  return { 0, poll }
end
redis.call('HDEL', b, mine)
redis.call('HSET', b, 'next', string.format('%.3f', nextFree + bytes * 1000 / rate), 'virtual', string.format('%.6f', myTag), 'finish:' .. lane, string.format('%.6f', myTag + bytes / myWeight))
redis.call('HINCRBY', b, 'leased', bytes)
redis.call('HINCRBY', b, 'leased:' .. lane, bytes)
if ARGV[9] == '1' then redis.call('HINCRBY', KEYS[2], 'leased', bytes) end
return { 1, math.ceil(nextFree - now) }
`;

export interface RedisLinkPacerOptions {
  /** The bucket's hash: a link's (shared by every run on it) or a run's own. */
  readonly key: string;
  /** The run's hash, where the bytes it leased are counted (by one pacer of a chain). */
  readonly runKey: string;
  readonly countForRun: boolean;
  /** Bytes per second in force now; Infinity: unlimited. */
  readonly rate: () => number;
  /** This pacer's lane, and the weight of every lane that shares the bucket. */
  readonly lane: Lane;
  readonly weights: Readonly<Partial<Record<Lane, number>>>;
  readonly burstMs?: number;
}

export class RedisLinkPacer implements Pacer {
  private lease = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Names this pacer's waiting request in the bucket. */
  private readonly requester = randomBytes(6).toString('base64url');

  constructor(
    private readonly redis: Redis,
    private readonly o: RedisLinkPacerOptions,
  ) {}

  /**
   * A lease of ~1/20 s of the rate, within 64 KiB–64 MiB: small against the cap, and few
   * Redis calls even at 100 Gbps (~190 leases/s of 64 MiB).
   */
  static leaseBytes(rate: number): number {
    return Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(rate / 20)));
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    // one lease request at a time per pacer, in arrival order
    const p = this.chain.then(() => this.takeInOrder(bytes, signal));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async takeInOrder(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.lease >= bytes) {
      this.lease -= bytes;
      return;
    }
    for (;;) {
      const rate = this.o.rate();
      if (!Number.isFinite(rate) || rate <= 0) return;
      const chunk = Math.max(bytes - this.lease, RedisLinkPacer.leaseBytes(rate));
      const leaseMs = (RedisLinkPacer.leaseBytes(rate) * 1000) / rate;
      // book at most about one lease ahead, so the lanes decide who sends next
      const lookahead = Math.max(50, leaseMs);
      const lanes = Object.entries(this.o.weights).flatMap(([l, w]) => [l, String(w)]);
      const [granted, ms] = (await this.redis.eval(
        LEASE,
        2,
        this.o.key,
        this.o.runKey,
        String(rate),
        String(chunk),
        String(this.o.burstMs ?? 100),
        String(lookahead),
        this.o.lane,
        this.requester,
        String(Math.ceil(2 * lookahead + 250)),
        String(Math.max(5, Math.min(25, Math.round(leaseMs / 4)))),
        this.o.countForRun ? '1' : '0',
        ...lanes,
      )) as [number, number];
      if (granted === 1) {
        this.lease += chunk - bytes;
        if (ms > 0) await sleep(ms, signal);
        return;
      }
      // jitter, so the workers that were told the same moment do not all ask at once
      await sleep(Math.max(1, ms) + Math.floor(Math.random() * 5), signal);
    }
  }
}
