/**
 * A scrubbing thread (threads.ts starts it): one scrubber per file stream it is given, the
 * same createScrubber a scrub on the calling thread uses, so the bytes out are the same.
 * Streams are told apart by id; the messages of one stream arrive and leave in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadScrubConfig } from './config.js';
import { createScrubber, type Scrubber } from './scrubber.js';
import { errorToWire, type FromWorker, type ToWorker, type WorkerSetup } from './thread-protocol.js';

const port = parentPort;
if (!port) throw new Error('scrub-worker.js runs as a worker thread');
const setup = workerData as WorkerSetup;
const config = loadScrubConfig(setup.scrub);
const key = setup.key ? Buffer.from(setup.key) : undefined;
const open = new Map<number, Scrubber>();

function send(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(m, transfer);
}

/** Ends stream `id` with an error, once: later messages for it are ignored. */
function fail(id: number, err: unknown): void {
  if (open.delete(id)) send({ id, error: errorToWire(err) });
}

function start(id: number, fileName: string, discard: boolean): void {
  let s: Scrubber;
  try {
    s = createScrubber(config, { fileName, ...(key ? { key } : {}) });
  } catch (err) {
    send({ id, error: errorToWire(err) });
    return;
  }
  open.set(id, s);
  s.transform.on('data', (b: Buffer) => {
    if (discard) return;
    // a copy the port can move: the scrubber's buffers may share memory with others
    const out = new Uint8Array(b.length);
    out.set(b);
    send({ id, out }, [out.buffer]);
  });
  s.transform.on('end', () => {
    if (!open.delete(id)) return;
    send({ id, done: s.report() as unknown as Record<string, unknown> });
  });
  s.transform.on('error', (err) => fail(id, err));
}

port.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'open':
      start(m.id, m.fileName, m.discard === true);
      return;
    case 'data': {
      const s = open.get(m.id);
      if (!s) return; // failed already: its error has been sent
      s.transform.write(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length), (err) => {
        if (!err) send({ id: m.id, ack: true });
      });
      return;
    }
    case 'end':
      open.get(m.id)?.transform.end();
      return;
    case 'abort': {
      const s = open.get(m.id);
      open.delete(m.id);
      s?.transform.destroy();
      return;
    }
  }
});
