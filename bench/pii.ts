/**
 * PII scrubbing throughput in MB per CPU-second of this process (one core: the scrubber is
 * synchronous and runs on the main thread), for every operator mode (redact, mask,
 * replace, hash) x format (JSONL, CSV) x corpus (sparse, dense).
 *
 * Run: `npx tsx bench/pii.ts [MB per corpus and format, default 32] [runs, default 3]
 *       [--only=dense|sparse] [--modes=hash,replace] [--show=dense|sparse]
 *       [--save=DIR]`
 *
 * Corpora (generated, seeded, so every run scrubs the same bytes):
 *  - sparse: event records (~330 bytes) with an email, a phone and an IP under PII-named
 *    keys and a free-text message that holds PII in about a third of the records.
 *  - dense: inference-log records (~900 bytes) where most fields hold PII or a
 *    look-alike: user email, caller phone in several national formats, client IP (v4
 *    and v6), a mixed-bag `value` field (cards and Luhn-failing card look-alikes, SSNs
 *    and invalid SSN look-alikes, IBANs, MACs, order ids, 12-digit account ids, epoch
 *    times, floats), a prompt and a response of free text with names, emails, phones,
 *    cards, SSNs, IBANs, birth dates, IPs, prices, UUIDs and order numbers in them,
 *    request/trace ids, a sha256 digest, ISO and epoch timestamps, floats. Users come
 *    from a skewed population of 20,000 (identities repeat, as in real logs); half of
 *    the PII in free text is new on every record.
 *
 * Every mode sets every entity type to that operator (hash: HMAC tokens for all of them).
 *
 * Peer: Microsoft Presidio is the reference tool, but it is a Python package and PyPI is
 * not reachable here, so it cannot be measured in the same run. The reference printed
 * instead is a naive baseline measured in the same run, alternating with ours: a chain of
 * five global regex replaces (email, SSN, card, phone, IPv4) over the raw text, the way a
 * hand-rolled scrubber is usually written. It parses nothing, validates nothing (no Luhn,
 * no libphonenumber, no hard negatives) and has no column handling, so it is a floor on
 * cost, not a quality peer. The ratio is ours / baseline (medians): above 1 is faster.
 *
 * Not a test: nothing here asserts a timing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createScrubber, ENTITY_TYPES, loadScrubConfig, type ScrubConfig, type ScrubReport } from '../src/governance/pii/index.js';
import { seededRandom as rng } from '../test/helpers/rng.js';

const MB = 1 << 20;
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flag = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const targetMb = Number(positional[0] ?? 32);
const runs = Number(positional[1] ?? 3);
const MODES = ['redact', 'mask', 'replace', 'hash'] as const;
type Mode = (typeof MODES)[number];
const modes = (flag('modes')?.split(',') ?? MODES) as Mode[];
const corpora = (flag('only')?.split(',') ?? ['sparse', 'dense']) as Corpus[];
type Corpus = 'sparse' | 'dense';
type Format = 'jsonl' | 'csv';
type Row = Record<string, string | number>;


/** Random helpers bound to one PRNG. */
class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
}

// ---------------------------------------------------------------- sparse corpus (as before)

const FIRST = ['ann', 'bob', 'carla', 'dmitri', 'eve', 'farah', 'gus', 'hana', 'ivan', 'jules'];
const LAST = ['lee', 'smith', 'garcia', 'novak', 'okafor', 'tanaka', 'muller', 'rossi'];
const WORDS = 'the quick model training run finished with loss 0.231 after epoch 12 on shard batch gpu node'.split(' ');

function makeSparseRow(g: Gen, i: number): Row {
  const r = g.r;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const d = (n: number): string => String(Math.floor(r() * 10 ** n)).padStart(n, '0');
  const first = pick(FIRST);
  const last = pick(LAST);
  const words = Array.from({ length: 6 + Math.floor(r() * 10) }, () => pick(WORDS));
  if (r() < 0.2) words.splice(3, 0, `contact ${first}.${last}@example.com`);
  if (r() < 0.1) words.splice(2, 0, `call (${200 + Math.floor(r() * 700)}) 555-${d(4)}`);
  if (r() < 0.05) words.push(`from 10.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`);
  if (r() < 0.1) words.push('said "ok", then\nleft');
  return {
    id: i,
    ts: `2024-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}T10:${d(2).slice(0, 1)}5:00Z`,
    user: `${first} ${last}`,
    email: `${first}.${last}${d(3)}@example.org`,
    phone: `+1 ${200 + Math.floor(r() * 700)} 555 ${d(4)}`,
    ip: `192.168.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`,
    request_id: `${d(8)}-${d(4)}-4${d(3)}-a${d(3)}-${d(12)}`,
    sha: `${d(10)}abcdef${d(10)}0123456789abcdef`.slice(0, 40),
    amount: Math.round(r() * 100000) / 100,
    version: `1.${Math.floor(r() * 20)}.${Math.floor(r() * 50)}`,
    message: words.join(' '),
  };
}

// ---------------------------------------------------------------- dense corpus

const FIRST_NAMES = [
  'Maria', 'James', 'Aiko', 'Oluwaseun', 'Priya', 'Lukas', 'Sofia', 'Mateo', 'Chloe', 'Dmitri', 'Fatima', 'Noah',
  'Ingrid', 'Wei', 'Camille', 'Rahul', 'Zanele', 'Hugo', 'Elif', 'Kenji', 'Amara', 'Liam', 'Yara', 'Tomasz',
];
const LAST_NAMES = [
  'Garcia', 'Smith', 'Tanaka', 'Adeyemi', 'Sharma', 'Müller', 'Rossi', 'Fernández', 'Martin', 'Ivanov', 'Haddad',
  'Johnson', 'Larsen', 'Zhang', 'Dubois', 'Gupta', 'Dlamini', 'Leroy', 'Yılmaz', 'Sato', 'Okafor', "O'Brien",
];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'gmail.com', 'outlook.com', 'uni-example.de', 'example.co.uk'];
const MODELS = ['llama-3.1-8b-instruct', 'mistral-7b-v0.3', 'gpt-4o-mini-2024-07-18', 'qwen2.5-14b', 'claude-3-haiku'];

function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardNumber(g: Gen, valid: boolean): string {
  const [prefix, len] = g.pick([['4', 16], ['51', 16], ['55', 16], ['37', 15], ['6011', 16], ['35', 16]] as const);
  const body = prefix + g.digits(len - prefix.length - 1);
  let check = luhnDigit(body);
  if (!valid) check = String((Number(check) + 1 + g.int(8)) % 10);
  const n = body + check;
  const style = g.int(3);
  if (style === 0) return n;
  const sep = style === 1 ? ' ' : '-';
  return len === 15 ? `${n.slice(0, 4)}${sep}${n.slice(4, 10)}${sep}${n.slice(10)}` : n.match(/.{4}/g)!.join(sep);
}

function ssn(g: Gen, valid: boolean): string {
  const area = valid ? g.pick([g.between(1, 665), g.between(667, 899)]) : g.pick([0, 666, g.between(900, 999)]);
  return `${String(area).padStart(3, '0')}-${String(g.between(1, 99)).padStart(2, '0')}-${String(g.between(1, 9999)).padStart(4, '0')}`;
}

function iban(g: Gen): string {
  const [cc, bban] = g.pick([
    ['DE', () => g.digits(18)],
    ['GB', () => `NWBK${g.digits(14)}`],
    ['FR', () => `${g.digits(10)}${g.digits(11)}${g.digits(2)}`],
    ['NL', () => `ABNA${g.digits(10)}`],
  ] as const);
  const b = bban();
  const numeric = `${b}${cc}00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  const compact = `${cc}${String(98 - rem).padStart(2, '0')}${b}`;
  return g.chance(0.5) ? compact : compact.match(/.{1,4}/g)!.join(' ');
}

/** Phone numbers in several national and international formats (random subscriber digits). */
function phone(g: Gen): string {
  const area = `${g.between(2, 9)}${g.digits(2)}`;
  const exch = `${g.between(2, 9)}${g.digits(2)}`;
  const line = g.digits(4);
  switch (g.int(14)) {
    case 0:
      return `(${area}) ${exch}-${line}`;
    case 1:
      return `${area}-${exch}-${line}`;
    case 2:
      return `${area}.${exch}.${line}`;
    case 3:
      return `+1 ${area} ${exch} ${line}`;
    case 4:
      return `+1${area}${exch}${line}`;
    case 5:
      return `1-800-${exch}-${line}`;
    case 6:
      return `+44 20 7${g.digits(3)} ${g.digits(4)}`;
    case 7:
      return `+44 7${g.digits(3)} ${g.digits(6)}`;
    case 8:
      return `+49 30 ${g.digits(8)}`;
    case 9:
      return `+49 15${g.digits(2)} ${g.digits(7)}`;
    case 10:
      return `+33 6 ${g.digits(2)} ${g.digits(2)} ${g.digits(2)} ${g.digits(2)}`;
    case 11:
      return `+91 9${g.digits(4)} ${g.digits(5)}`;
    case 12:
      return `+81 3-${g.digits(4)}-${g.digits(4)}`;
    default:
      // A UK national number: a look-alike under the default phoneRegions [US].
      return `020 7${g.digits(3)} ${g.digits(4)}`;
  }
}

function ipAddress(g: Gen): string {
  if (g.chance(0.85)) return `${g.pick([10, 172, 192, 203, 198, 81, 34])}.${g.int(256)}.${g.int(256)}.${g.between(1, 254)}`;
  return `2001:db8:${g.hex(4)}:${g.hex(2)}::${g.hex(3)}`;
}

const uuid = (g: Gen): string => `${g.hex(8)}-${g.hex(4)}-4${g.hex(3)}-${g.pick(['8', '9', 'a', 'b'])}${g.hex(3)}-${g.hex(12)}`;
const mac = (g: Gen): string => Array.from({ length: 6 }, () => g.hex(2)).join(g.pick([':', '-']));
const isoTs = (g: Gen): string =>
  `2025-0${g.between(1, 9)}-${String(g.between(10, 28))}T${String(g.int(24)).padStart(2, '0')}:${String(g.int(60)).padStart(2, '0')}:${String(g.int(60)).padStart(2, '0')}.${g.digits(3)}Z`;
const epochMs = (g: Gen): number => 1_735_000_000_000 + g.int(40_000_000_000);
const float = (g: Gen): string => (g.r() * (g.chance(0.5) ? 1 : 1000)).toPrecision(g.between(3, 15));
const dob = (g: Gen): string => {
  const y = g.between(1950, 2004);
  const m = String(g.between(1, 12)).padStart(2, '0');
  const d = String(g.between(1, 28)).padStart(2, '0');
  return g.pick([`${y}-${m}-${d}`, `${m}/${d}/${y}`, `${d}.${m}.${y}`]);
};
const price = (g: Gen): string => g.pick([`$${g.between(1, 999)}.${g.digits(2)}`, `$${g.between(1, 99)},${g.digits(3)}.${g.digits(2)}`, `€${g.between(1, 999)},${g.digits(2)}`]);

interface User {
  first: string;
  last: string;
  email: string;
  phone: string;
  ip: string;
}

function makeUser(g: Gen): User {
  const first = g.pick(FIRST_NAMES);
  const last = g.pick(LAST_NAMES);
  const local = `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '');
  return { first, last, email: `${local}${g.chance(0.5) ? g.digits(2) : ''}@${g.pick(DOMAINS)}`, phone: phone(g), ip: ipAddress(g) };
}

/** The mixed-bag field: about half PII, half look-alikes, no type above the column threshold. */
function mixedValue(g: Gen): string {
  switch (g.int(12)) {
    case 0:
      return cardNumber(g, true);
    case 1:
      return cardNumber(g, false);
    case 2:
      return ssn(g, true);
    case 3:
      return ssn(g, false);
    case 4:
      return iban(g);
    case 5:
      return mac(g);
    case 6:
      return `ORD-2025-${g.digits(6)}`;
    case 7:
      return g.digits(12);
    case 8:
      return String(epochMs(g));
    case 9:
      return float(g);
    case 10:
      return phone(g);
    default:
      return `${g.pick(FIRST_NAMES)}.${g.pick(LAST_NAMES)}@${g.pick(DOMAINS)}`.toLowerCase().replace(/[^a-z.@-]/g, '');
  }
}

function prompt(g: Gen, u: User, other: User): string {
  const who = g.chance(0.5) ? u : other; // half of the PII in text repeats, half is someone new each time
  const name = `${who.first} ${who.last}`;
  switch (g.int(6)) {
    case 0:
      return `Hi, I'm ${name}. Please charge card ${cardNumber(g, true)} and send the receipt to ${who.email}. My number is ${phone(g)}.`;
    case 1:
      return `${who.first} here, my SSN is ${ssn(g, true)} and I was born ${dob(g)}. Order #${g.digits(9)} is still missing, total ${price(g)}.`;
    case 2:
      return `Transfer ${price(g)} from ${iban(g)} to ${iban(g)}; ref ${g.digits(8)}. Contact ${name} at ${who.phone} or ${who.email}.`;
    case 3:
      return `Summarise: ${name} (${who.email}, ${phone(g)}) logged in from ${ipAddress(g)} at ${isoTs(g)} with device ${mac(g)}.`;
    case 4:
      return `Why did job ${uuid(g)} fail at step ${g.digits(10)} with loss ${float(g)}? Build 1.${g.int(20)}.${g.int(99)}, port ${g.between(1024, 65535)}, from ${who.ip}.`;
    default:
      return `Draft a reply to ${name} <${who.email}>, phone ${who.phone}, about invoice INV-${g.digits(6)} of ${price(g)} due ${isoTs(g).slice(0, 10)}.`;
  }
}

function response(g: Gen, u: User): string {
  switch (g.int(5)) {
    case 0:
      return `Sure ${u.first}, I have updated the record for ${u.email}. Reference: ${uuid(g)}. Total: ${price(g)} on ${isoTs(g).slice(0, 10)}.`;
    case 1:
      return `I called ${u.phone} but got no answer; I will retry at ${String(g.int(24)).padStart(2, '0')}:30 UTC. Card ending ${g.digits(4)} was not charged.`;
    case 2:
      return `Account ${g.digits(12)} has invoices INV-${g.digits(6)} and INV-${g.digits(6)}. Latency was ${float(g)} ms at p99, seed ${g.digits(10)}.`;
    case 3:
      return `Done. Token usage: ${g.int(4000)} prompt, ${g.int(900)} completion, cost $0.000${g.digits(3)}, trace ${g.hex(32)}.`;
    default:
      return `${u.first} ${u.last}'s card ${cardNumber(g, g.chance(0.5))} and SSN ${ssn(g, g.chance(0.5))} are on file; IP ${ipAddress(g)}.`;
  }
}

const POPULATION = 20_000;

function denseRowMaker(): (g: Gen, i: number) => Row {
  const pg = new Gen(rng(7));
  const users = Array.from({ length: POPULATION }, () => makeUser(pg));
  return (g, i) => {
    const u = users[Math.floor(POPULATION * g.r() ** 2)]!;
    const other = makeUser(g);
    return {
      ts: isoTs(g),
      request_id: uuid(g),
      trace_id: g.hex(32),
      model: g.pick(MODELS),
      user_email: u.email,
      caller: u.phone,
      client_ip: u.ip,
      value: mixedValue(g),
      prompt: prompt(g, u, other),
      response: response(g, u),
      latency_ms: Number(float(g)),
      logprob: -g.r(),
      tokens_in: g.int(4096),
      epoch_ms: epochMs(g) + i,
      digest: `sha256:${g.hex(64)}`,
    };
  };
}

// ---------------------------------------------------------------- files

/** Quotes only when needed, like most CSV writers (pandas, Python csv QUOTE_MINIMAL). */
function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function generate(corpus: Corpus, format: Format): Buffer {
  const g = new Gen(rng(42));
  const make = corpus === 'dense' ? denseRowMaker() : makeSparseRow;
  const parts: string[] = [];
  let bytes = 0;
  const cols = Object.keys(make(new Gen(rng(1)), 0));
  if (format === 'csv') parts.push(`${cols.join(',')}\n`);
  for (let i = 0; bytes < targetMb * MB; i++) {
    const row = make(g, i);
    const line = format === 'jsonl' ? `${JSON.stringify(row)}\n` : `${cols.map((c) => csvField(String(row[c]))).join(',')}\n`;
    parts.push(line);
    bytes += Buffer.byteLength(line);
  }
  return Buffer.from(parts.join(''));
}

// ---------------------------------------------------------------- measurement

const KEY = Buffer.alloc(32, 1);

function configFor(mode: Mode): ScrubConfig {
  return loadScrubConfig({ entities: Object.fromEntries(ENTITY_TYPES.map((t) => [t, mode])) });
}

async function measureOurs(data: Buffer, fileName: string, config: ScrubConfig): Promise<{ mbps: number; report: ScrubReport }> {
  const scrubber = createScrubber(config, { fileName, key: KEY });
  const chunks: Buffer[] = [];
  for (let off = 0; off < data.length; off += 64 * 1024) chunks.push(data.subarray(off, off + 64 * 1024));
  let out = 0;
  const t0 = process.cpuUsage();
  await pipeline(
    Readable.from(chunks),
    scrubber.transform,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.length;
        cb();
      },
    }),
  );
  const seconds = cpuSeconds(t0);
  if (out === 0) throw new Error('no output');
  return { mbps: data.length / MB / seconds, report: scrubber.report() };
}

/**
 * CPU seconds used by this process since `start`. Throughput is measured against CPU time,
 * not wall time, so that "MB/s per core" holds on a machine shared with other jobs.
 */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

const NAIVE: readonly [RegExp, string][] = [
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '<EMAIL>'],
  [/\b\d{3}-\d{2}-\d{4}\b/g, '<SSN>'],
  [/\b(?:\d[ -]?){12,18}\d\b/g, '<CARD>'],
  [/(?:\+?1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}\b/g, '<PHONE>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '<IP>'],
];

function measureNaive(data: Buffer): number {
  let out = 0;
  const t0 = process.cpuUsage();
  for (let off = 0; off < data.length; off += 64 * 1024) {
    let text = data.toString('utf8', off, Math.min(data.length, off + 64 * 1024));
    for (const [re, rep] of NAIVE) text = text.replace(re, rep);
    out += Buffer.byteLength(text);
  }
  const seconds = cpuSeconds(t0);
  if (out === 0) throw new Error('no output');
  return data.length / MB / seconds;
}

interface Stats {
  min: number;
  median: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

function loadAverage(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim().replace(/^.*load average:\s*/, '');
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const show = flag('show') as Corpus | undefined;
  if (show) {
    // `--show=dense`: print the first records of a corpus and exit.
    const text = generate(show, 'jsonl').toString('utf8', 0, 8192);
    console.log(text.slice(0, text.lastIndexOf('\n')));
    return;
  }
  const save = flag('save');
  if (save) {
    // `--save=DIR`: write the corpora as files (e.g. to profile `hybridsync scrub` on them) and exit.
    mkdirSync(save, { recursive: true });
    for (const corpus of corpora) for (const format of ['jsonl', 'csv'] as const) writeFileSync(join(save, `${corpus}.${format}`), generate(corpus, format));
    return;
  }
  const configs = Object.fromEntries(modes.map((m) => [m, configFor(m)])) as Record<Mode, ScrubConfig>;
  console.log(`PII scrub throughput, MB per CPU-second (one core), ${targetMb} MB per corpus and format, median (min-max) of ${runs} alternating runs, node ${process.version}`);
  console.log(`load average at start: ${loadAverage()}`);
  console.log('corpus  format  mode     ours MB/s            naive MB/s           ratio  replaced/MB');
  const rows: string[] = [];
  for (const corpus of corpora) {
    for (const format of ['jsonl', 'csv'] as const) {
      const data = generate(corpus, format);
      const fileName = `bench.${format}`;
      await measureOurs(data.subarray(0, 4 * MB), fileName, configs[modes[0]!]); // JIT warm-up
      const ours = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      const naive: number[] = [];
      let replaced = 0;
      // Alternating: naive, then every mode, once per round, so load and warm-up spread evenly.
      for (let run = 0; run < runs; run++) {
        naive.push(measureNaive(data));
        for (const m of modes) {
          const { mbps, report } = await measureOurs(data, fileName, configs[m]);
          ours[m].push(mbps);
          if (run === 0 && m === modes[0]) replaced = Object.values(report.counts).reduce((a, b) => a + b, 0);
        }
      }
      const nv = stats(naive);
      const cell = (s: Stats): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})`.padEnd(21);
      for (const m of modes) {
        const s = stats(ours[m]);
        const line = `${corpus.padEnd(7)} ${format.padEnd(7)} ${m.padEnd(8)} ${cell(s)}${cell(nv)}${(s.median / nv.median).toFixed(2).padStart(5)}  ${(replaced / (data.length / MB)).toFixed(0).padStart(6)}`;
        console.log(line);
        rows.push(`| ${corpus} | ${format.toUpperCase()} | ${m} | ${s.median.toFixed(1)} | ${s.min.toFixed(1)}–${s.max.toFixed(1)} | ${nv.median.toFixed(1)} | ${(s.median / nv.median).toFixed(2)} |`);
      }
    }
  }
  console.log(`load average at end: ${loadAverage()}`);
  console.log('\nMarkdown:\n| corpus | format | mode | MB/s (median) | range | naive regex chain | ratio |\n|---|---|---|---:|---|---:|---:|');
  for (const r of rows) console.log(r);
  console.log('\ntarget: >= 50 MB/s per core in every mode. The baseline is a naive regex chain, not Presidio (not installable here).');
}

await main();
