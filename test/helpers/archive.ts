/**
 * A backend wrapper that reports archive states the way S3 and Azure do — reads of an
 * archived object refused with ObjectArchivedError, a restore request turning it into
 * `restoring`, `complete()` making it readable — for unit tests of the engine's logic above
 * the Tierer capability. No test server can hold an object in "restore pending" on demand
 * (Ceph's GLACIER never needs a restore, Azurite rehydrates at once), so the pending state
 * is exercised here; the requests themselves are tested against Ceph RGW and Azurite.
 */
import type { Readable } from 'node:stream';
import type { ArchiveState, Backend, Features, ListOptions, OpOptions, ReadOptions, RestoreAnswer, RestoreRequest, Tierer, TierOptions, WriteOptions } from '../../src/core/backend.js';
import type { Entry, WriteMeta, WriteResult } from '../../src/core/entry.js';
import { NotFoundError, ObjectArchivedError } from '../../src/core/errors.js';
import { MemoryBackend } from '../../src/backends/memory/index.js';

export class ArchivingBackend implements Backend, Tierer {
  readonly type = 's3';
  readonly features: Features;
  /** Key → archive state; keys absent here are online STANDARD objects. */
  readonly states = new Map<string, ArchiveState>();
  readonly restoreRequests: Array<{ key: string; req: RestoreRequest }> = [];
  /** Times archiveState was asked, per key. */
  readonly looks = new Map<string, number>();
  /** Called on each look (tests complete a restore after some). */
  onLook?: (key: string, n: number) => void;

  constructor(readonly inner: MemoryBackend = new MemoryBackend('mem://archive')) {
    this.features = { ...inner.features, tiering: true, storageClass: true };
  }

  get uri(): string {
    return this.inner.uri;
  }
  get location() {
    return this.inner.location;
  }

  archive(key: string, storageClass = 'GLACIER'): void {
    this.states.set(key, { state: 'archived', storageClass });
  }
  complete(key: string): void {
    const s = this.states.get(key);
    if (s) this.states.set(key, { state: 'restored', storageClass: s.storageClass, until: Date.now() + 86_400_000 });
  }

  async *list(opts?: ListOptions): AsyncIterable<Entry> {
    for await (const e of this.inner.list(opts)) {
      const s = this.states.get(e.key);
      yield { ...e, storageClass: s?.storageClass ?? 'STANDARD' };
    }
  }
  async stat(key: string, opts?: OpOptions): Promise<Entry | undefined> {
    const e = await this.inner.stat(key);
    void opts;
    return e && { ...e, storageClass: this.states.get(key)?.storageClass ?? 'STANDARD' };
  }
  async read(key: string, opts?: ReadOptions): Promise<Readable> {
    const s = this.states.get(key);
    if (s && (s.state === 'archived' || s.state === 'restoring')) throw new ObjectArchivedError(`${key} is in ${s.storageClass}`, s.storageClass);
    return this.inner.read(key, opts);
  }
  write(key: string, body: Readable, meta: WriteMeta, opts?: WriteOptions): Promise<WriteResult> {
    return this.inner.write(key, body, meta, opts);
  }
  remove(key: string): Promise<void> {
    return this.inner.remove(key);
  }

  async setStorageClass(key: string, storageClass: string, _opts?: TierOptions): Promise<Entry> {
    const e = await this.inner.stat(key);
    if (!e) throw new NotFoundError(key);
    if (storageClass === 'GLACIER' || storageClass === 'DEEP_ARCHIVE') this.archive(key, storageClass);
    return { ...e, storageClass };
  }
  async archiveState(key: string): Promise<ArchiveState | undefined> {
    const n = (this.looks.get(key) ?? 0) + 1;
    this.looks.set(key, n);
    this.onLook?.(key, n);
    if (!this.inner.objects.has(key)) return undefined;
    return this.states.get(key) ?? { state: 'online', storageClass: 'STANDARD' };
  }
  async requestRestore(key: string, req: RestoreRequest): Promise<RestoreAnswer> {
    const s = this.states.get(key);
    if (!s || s.state === 'online' || s.state === 'restored') return 'not-archived';
    if (s.state === 'restoring') return 'in-progress';
    this.restoreRequests.push({ key, req });
    this.states.set(key, { state: 'restoring', storageClass: s.storageClass });
    return 'requested';
  }
}
