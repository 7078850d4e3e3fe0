/**
 * Consent before upload (MISSION §3), as an admission policy: a pure decision the packager applies inside
 * the transition that follows its scan. `ask` holds the job in `awaiting_consent` until the user confirms
 * the digest of what they were shown; `allow` admits and says so on the timeline; `deny` refuses.
 */
export const CONSENT_MODES = ['ask', 'allow', 'deny'] as const;
export type ConsentMode = (typeof CONSENT_MODES)[number];

/** What an admission policy says about a job: go on (with a note for the timeline), wait in a named state, or refuse. */
export type AdmissionDecision =
  | { action: 'admit'; note: string | null; data?: Record<string, unknown> }
  | { action: 'hold'; status: 'awaiting_consent'; reason: string }
  | { action: 'refuse'; code: string; reason: string };

export interface ConsentInput {
  mode: ConsentMode;
  provider: string;
  /** The provider's data leaves the user's infrastructure (or the organisation counts its own workers as such). */
  applies: boolean;
  /** Files that would be uploaded; no local data means nothing to consent to. */
  files: number;
  bytes: number;
  /** The digest of what the scan found now. */
  digest: string;
  /** The digest the user consented to (at submission or on the job), or null. */
  consentedDigest: string | null;
}

export function decideConsent(c: ConsentInput): AdmissionDecision {
  if (!c.applies || c.files === 0) return { action: 'admit', note: null };
  const what = `${c.files} files (${c.bytes} bytes) to ${c.provider}`;
  if (c.mode === 'deny') {
    return { action: 'refuse', code: 'consent_denied', reason: `not uploaded: the organisation's data-consent setting is "deny" (${what} would have left this infrastructure)` };
  }
  if (c.mode === 'allow') {
    return { action: 'admit', note: `upload of ${what} allowed by the organisation's data-consent setting`, data: { consent: 'setting_allows', provider: c.provider, digest: c.digest } };
  }
  if (c.consentedDigest === c.digest) {
    return { action: 'admit', note: `upload of ${what} consented to`, data: { consent: 'consented', provider: c.provider, digest: c.digest } };
  }
  const again = c.consentedDigest !== null ? 'the datasets changed since consent was given; ' : '';
  return { action: 'hold', status: 'awaiting_consent', reason: `${again}waiting for consent to upload ${what}` };
}
