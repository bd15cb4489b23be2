import type { ScrubConfig } from '../config.js';
import type { ValueScrubber } from '../value-scrubber.js';
import { OutputBuffer, LineSplitter, newStats, type FormatHandler, type HandlerStats } from './lines.js';

/** Plain text and log files: every line is scrubbed by the detectors on its own. */
export class TextScrubber implements FormatHandler {
  readonly stats: HandlerStats = newStats();
  private readonly splitter: LineSplitter;
  private readonly out = new OutputBuffer();
  private readonly onLine = (line: string, eol: string): void => {
    this.stats.records++;
    this.out.push(this.vs.text(line), eol);
  };

  constructor(
    config: ScrubConfig,
    private readonly vs: ValueScrubber,
  ) {
    this.splitter = new LineSplitter(config.limits.maxRecordBytes, 'safe', this.stats);
  }

  write(text: string): string {
    this.splitter.push(text, this.onLine);
    return this.out.drain();
  }

  end(): string {
    this.splitter.end(this.onLine);
    return this.out.drain();
  }

}
