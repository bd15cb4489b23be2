/**
 * What may not enter the audit trail: credentials (in URLs, in error messages from
 * SDKs) and raw PII (an e-mail address in a file name). URLs lose their user info and
 * query; free text loses anything shaped like a credential; with the PII engine
 * available, detected entities are replaced by their type.
 */

const CREDENTIAL_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b/g, '[aws-access-key-id]'],
  [/(aws_secret_access_key|secret_?access_?key|secretkey|password|passwd|token|api[_-]?key)(["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, '$1$2[redacted]'],
  [/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s]+/gi, '$1[redacted]'],
  [/(Authorization:\s*)(?:AWS4-HMAC-SHA256|Bearer|Basic)\s+[^\r\n]+/gi, '$1[redacted]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[private-key]'],
  [/([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, '$1[redacted]@'],
];
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** Cheap test for whether any credential pattern could match (most names never do). */
const MAYBE_CREDENTIAL = /AKIA|ASIA|AIDA|AROA|secret|passw|token|key|X-Amz-|Authorization|PRIVATE KEY|:\/\/[^/\s]*@/i;

/** Removes credentials from free text (error messages, notices). */
export function redactCredentials(text: string): string {
  if (!MAYBE_CREDENTIAL.test(text)) return text;
  let out = text;
  for (const [re, by] of CREDENTIAL_PATTERNS) out = out.replace(re, by);
  return out;
}

/** A location without user info, query or fragment. */
export function redactUri(uri: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)/i.exec(uri);
  if (!m) return uri;
  const host = m[2]!.includes('@') ? m[2]!.slice(m[2]!.lastIndexOf('@') + 1) : m[2]!;
  return `${m[1]}${host}${m[3]}`;
}

export type Redactor = (text: string) => string;

/**
 * The redactor used for names and messages: credentials always, e-mail addresses always
 * (they are common in file names), and what the PII engine detects when it is available.
 */
export function createRedactor(pii?: (text: string) => string): Redactor {
  return (text) => {
    let out = redactCredentials(text);
    if (out.includes('@')) out = out.replace(EMAIL, '[email]');
    if (pii && /\d/.test(out)) out = pii(out);
    return out;
  };
}
