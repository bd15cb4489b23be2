/* eslint-disable */
// Placeholder until the Azure Blob backend (branch azure) is merged; replaced by it.
import type { Backend } from '../../core/backend.js';
import { UsageError } from '../../core/errors.js';
import type { Location } from '../../core/location.js';
export interface AzureConnectionOptions {
  connectionString?: string;
  account?: string;
  accountKey?: string;
  sasToken?: string;
  endpoint?: string;
  allowInsecureHttp?: boolean;
  caBundle?: string;
  tlsMinVersion?: 'TLSv1.2' | 'TLSv1.3';
}
export function describeAzureConnection(c: AzureConnectionOptions): { endpoint: string; account: string } {
  return { endpoint: c.endpoint ?? 'http://azure.invalid', account: c.account ?? '' };
}
export function parseAzureUrl(u: string): { container: string; prefix: string } {
  const m = /^az:\/\/([^/]+)\/?(.*)$/.exec(u);
  return { container: m?.[1] ?? '', prefix: m?.[2] ?? '' };
}
export function AzureBlobBackend(_l: Location, _c: AzureConnectionOptions, _o: object): Backend {
  throw new UsageError('the Azure backend is not in this build');
}
