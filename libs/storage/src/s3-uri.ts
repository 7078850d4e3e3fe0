/** Query parameters as SigV4 canonicalisation needs them: decoded, repeated keys kept. */
export type QueryMap = Record<string, string | string[]>;

function decode(text: string): string {
  // '+' is kept literally: S3 clients percent-encode spaces as %20 in signed URLs.
  return decodeURIComponent(text);
}

/** Parses a raw query string; malformed escapes raise URIError. */
export function parseRawQuery(raw: string): QueryMap {
  const out: QueryMap = {};
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** First value of a query parameter. */
export function queryValue(query: QueryMap, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[0] : v;
}

/** RFC 3986 encoding as S3 SigV4 expects it (encodeURIComponent also leaves !'()* alone). */
export function s3EncodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Decodes then re-encodes a raw path segment-wise; null when the raw path has broken escapes. */
export function s3EncodePath(rawPath: string): string | null {
  try {
    return rawPath.split('/').map((s) => s3EncodeSegment(decodeURIComponent(s))).join('/');
  } catch {
    return null;
  }
}
