import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { until } from '../../helpers/daemon.js';
import { createScrubber, defaultScrubConfig, loadScrubConfig, type ScrubConfig, type ScrubFormat, type ScrubReport } from '../../../src/governance/pii/index.js';

export const TEST_KEY = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');

export interface ScrubResult {
  output: Buffer;
  text: string;
  report: ScrubReport;
}

/** Runs `input` through a scrubber, fed as the given chunks (default: one chunk). */
export async function scrub(
  input: string | Buffer,
  fileName: string,
  opts: { config?: ScrubConfig | Record<string, unknown>; key?: Buffer; format?: ScrubFormat; splitAt?: number[] } = {},
): Promise<ScrubResult> {
  const config = opts.config === undefined ? defaultScrubConfig() : loadScrubConfig(opts.config);
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const cuts = [0, ...(opts.splitAt ?? []), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) if (cuts[i + 1]! > cuts[i]!) chunks.push(bytes.subarray(cuts[i], cuts[i + 1]));
  const s = createScrubber(config, { fileName, key: opts.key, format: opts.format });
  const output = await through(chunks, s.transform);
  return { output, text: output.toString('utf8'), report: s.report() };
}

/** `chunks` through `transform`; what came out. */
export async function through(chunks: Buffer[], transform: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/**
 * Feeds `chunk(1)`, `chunk(2)`, … (null ends) into `transform` while nobody reads its output;
 * once the input has stopped moving, destroys both and returns how many chunks were pulled.
 * A transform that keeps back-pressure pulls a few; one that buffers without bound, all.
 */
export async function chunksPulledUnread(transform: Transform, chunk: (n: number) => Buffer | null): Promise<number> {
  let pulled = 0;
  const source = new Readable({
    read() {
      pulled++;
      this.push(chunk(pulled));
    },
  });
  source.pipe(transform);
  let last = -1;
  let still = 0;
  await until('the input to stop moving', async () => {
    still = pulled === last ? still + 1 : 0;
    last = pulled;
    return still >= 5 && pulled > 2 ? true : undefined;
  });
  source.destroy();
  transform.destroy();
  return pulled;
}
