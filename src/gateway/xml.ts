/** The little XML S3 needs: building responses and reading the few request documents (Delete, CompleteMultipartUpload). */
import { xmlEscape } from './errors.js';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function el(name: string, content: string | number | boolean): string {
  return `<${name}>${typeof content === 'string' ? xmlEscape(content) : String(content)}</${name}>`;
}

export function doc(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${inner}</${root}>`;
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|apos|quot|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default:
        return String.fromCodePoint(e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
  });
}

/** The inner text of every `<name>…</name>` element (not nested in itself), in order. */
export function elements(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1]!);
  return out;
}

/** The decoded text of the first `<name>` element, if any. */
export function text(xml: string, name: string): string | undefined {
  const v = elements(xml, name)[0];
  return v === undefined ? undefined : decodeEntities(v);
}
