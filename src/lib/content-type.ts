/**
 * The media type of a file from its name, for object stores that serve Content-Type (so a
 * .csv is not stored as binary/octet-stream). Formats ML data is kept in; unknown names get
 * none, and the store's default applies.
 */
const TYPES: Readonly<Record<string, string>> = {
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  xml: 'application/xml',
  html: 'text/html',
  parquet: 'application/vnd.apache.parquet',
  avro: 'application/avro',
  arrow: 'application/vnd.apache.arrow.file',
  gz: 'application/gzip',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  zip: 'application/zip',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  pdf: 'application/pdf',
};

export function contentTypeOf(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? TYPES[base.slice(dot + 1).toLowerCase()] : undefined;
}
