import type { Finding } from '../types.js';
import { isAsciiLetter, isDigitCode, scanStats } from './scan-context.js';

/**
 * Email addresses, found from each `@` outwards: at most MAX_LOCAL characters to the left
 * and MAX_DOMAIN to the right, then the scan resumes after the domain. Work is therefore
 * bounded by a constant per character even for `@@@@...` or `a@a@a@...`.
 *
 * ASCII addresses only; quoted local parts and internationalised addresses are not
 * detected.
 */

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;

/** Asset names like `logo@2x.png` look like addresses; these "TLDs" are file extensions. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'bmp', 'ico', 'css', 'js', 'mjs', 'cjs', 'ts', 'tsx',
  'jsx', 'json', 'txt', 'csv', 'tsv', 'html', 'htm', 'xml', 'yaml', 'yml', 'toml', 'lock', 'log',
  'map', 'woff', 'woff2', 'ttf', 'otf', 'eot', 'mp3', 'mp4', 'wav', 'webm', 'pdf', 'gz', 'tgz',
]);

/**
 * Local-part characters in practical use: letters, digits and `. _ % + - '`. RFC 5322 also
 * allows `! # $ & * / = ? ^ { | } ~`, but accepting them would swallow URL query strings
 * (`?user=jane@example.com`) into the address.
 */
function isLocalCode(c: number): boolean {
  return isAsciiLetter(c) || isDigitCode(c) || c === 46 || c === 95 || c === 45 || c === 43 || c === 37 || c === 39;
}

function isDomainCode(c: number): boolean {
  return isAsciiLetter(c) || isDigitCode(c) || c === 45 || c === 46;
}

export function scanEmails(text: string, out: Finding[]): void {
  let at = text.indexOf('@');
  let steps = 0;
  while (at >= 0) {
    let start = at;
    const minStart = Math.max(0, at - MAX_LOCAL);
    while (start > minStart && isLocalCode(text.charCodeAt(start - 1))) start--;
    steps += at - start;
    // Unusual local-part characters only inside; the address starts at a letter or digit.
    while (start < at && !isAsciiLetter(text.charCodeAt(start)) && !isDigitCode(text.charCodeAt(start))) start++;
    let end = at + 1;
    const maxEnd = Math.min(text.length, at + 1 + MAX_DOMAIN);
    while (end < maxEnd && isDomainCode(text.charCodeAt(end))) end++;
    steps += end - at;
    while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end--;
    const tooLong = start === minStart && start > 0 && isLocalCode(text.charCodeAt(start - 1));
    if (!tooLong && start < at && localValid(text, start, at) && domainValid(text, at + 1, end)) {
      out.push({ type: 'email', start, end, score: 0.95 });
      at = text.indexOf('@', end);
    } else {
      at = text.indexOf('@', at + 1);
    }
  }
  scanStats.steps += steps;
}

function localValid(text: string, start: number, end: number): boolean {
  if (text.charCodeAt(end - 1) === 46) return false;
  for (let i = start + 1; i < end; i++) {
    if (text.charCodeAt(i) === 46 && text.charCodeAt(i - 1) === 46) return false;
  }
  return true;
}

function domainValid(text: string, start: number, end: number): boolean {
  if (end - start < 4) return false;
  let labelStart = start;
  let labels = 0;
  for (let i = start; i <= end; i++) {
    if (i === end || text.charCodeAt(i) === 46) {
      const len = i - labelStart;
      if (len === 0 || len > 63) return false;
      if (text.charCodeAt(labelStart) === 45 || text.charCodeAt(i - 1) === 45) return false;
      labels++;
      if (i === end) break;
      labelStart = i + 1;
    }
  }
  if (labels < 2) return false;
  const tld = text.slice(labelStart, end);
  if (tld.length < 2 || tld.length > 24) return false;
  if (tld.startsWith('xn--')) return true;
  for (let i = 0; i < tld.length; i++) if (!isAsciiLetter(tld.charCodeAt(i))) return false;
  return !FILE_EXTENSIONS.has(tld.toLowerCase());
}
