/**
 * The gateway's upload thread (see gateway-upload.ts): runs one engine upload per batch it
 * is sent and answers with each key's outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../core/errors.js';
import { engineUploader, type BatchMessage, type UploadSetup } from './gateway-upload.js';

const upload = engineUploader(workerData as UploadSetup);
parentPort!.on('message', (m: BatchMessage) => {
  upload({ outbox: m.outbox, puts: m.puts, deletes: m.deletes, ...(m.known ? { known: new Map(m.known) } : {}) }).then(
    (results) => parentPort!.postMessage({ id: m.id, results: [...results] }),
    (err: unknown) => parentPort!.postMessage({ id: m.id, error: describeError(err) }),
  );
});
