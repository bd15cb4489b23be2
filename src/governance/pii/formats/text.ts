import type { ScrubConfig } from '../config.js';
import type { ValueScrubber } from '../value-scrubber.js';
import { ByteSink, LineSplitter, newStats, TextFormatHandler, type HandlerStats } from './lines.js';

/** Plain text and log files: every line is scrubbed by the detectors on its own. */
export class TextScrubber extends TextFormatHandler {
  readonly stats: HandlerStats = newStats();
  private readonly splitter: LineSplitter;
  private sink: ByteSink | undefined;
  private readonly onLine = (line: string, eol: string): void => {
    this.stats.records++;
    const sink = this.sink!;
    sink.text(this.vs.text(line));
    sink.text(eol);
  };
  /** The replacements found in the current line: [start, end) becomes text. */
  private readonly editStart: number[] = [];
  private readonly editEnd: number[] = [];
  private readonly editText: string[] = [];
  private readonly onEdit = (start: number, end: number, text: string): void => {
    this.editStart.push(start);
    this.editEnd.push(end);
    this.editText.push(text);
  };

  constructor(
    config: ScrubConfig,
    private readonly vs: ValueScrubber,
  ) {
    super();
    this.splitter = new LineSplitter(config.limits.maxRecordBytes, 'safe', this.stats);
  }

  writeText(text: string, sink: ByteSink): void {
    this.sink = sink;
    this.splitter.push(text, this.onLine);
  }

  end(sink: ByteSink): void {
    this.sink = sink;
    this.splitter.end(this.onLine);
  }

  /** One line as bytes: copied through unchanged, or with the replacements spliced in. */
  line(buf: Buffer, start: number, nl: number, sink: ByteSink): void {
    let end = nl;
    let next = nl;
    if (nl < buf.length) {
      next = nl + 1;
      if (nl > start && buf[nl - 1] === 13) end = nl - 1;
    }
    this.stats.records++;
    const text = buf.toString(sink.encoding, start, end);
    this.editStart.length = this.editEnd.length = this.editText.length = 0;
    if (this.vs.replaceEach(text, undefined, 0, this.onEdit) === 0) {
      sink.bytes(buf, start, next);
      return;
    }
    const singleByte = text.length === end - start;
    let last = 0;
    for (let k = 0; k < this.editStart.length; k++) {
      const s = this.editStart[k]!;
      if (singleByte) sink.bytes(buf, start + last, start + s);
      else sink.text(text.slice(last, s));
      sink.text(this.editText[k]!);
      last = this.editEnd[k]!;
    }
    if (singleByte) sink.bytes(buf, start + last, end);
    else sink.text(text.slice(last));
    sink.bytes(buf, end, next);
  }
}
