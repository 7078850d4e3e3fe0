import { decideConsent, type ConsentInput } from './consent';

const base: ConsentInput = { mode: 'ask', provider: 'replicate', applies: true, files: 3, bytes: 300, digest: 'd2', consentedDigest: null };

describe('consent policy', () => {
  it('holds a job in awaiting_consent under ask until its exact digest was consented to', () => {
    expect(decideConsent(base)).toMatchObject({ action: 'hold', status: 'awaiting_consent', reason: 'waiting for consent to upload 3 files (300 bytes) to replicate' });
    expect(decideConsent({ ...base, consentedDigest: 'd2' })).toMatchObject({ action: 'admit', data: { consent: 'consented', digest: 'd2' } });
  });

  it('asks again, and says why, when what was consented to is not what the scan found', () => {
    const d = decideConsent({ ...base, consentedDigest: 'd1' });
    expect(d).toMatchObject({ action: 'hold' });
    expect(d.action === 'hold' && d.reason).toMatch(/^the datasets changed since consent was given/);
  });

  it('allow admits with a note for the timeline; deny refuses, even with a digest', () => {
    expect(decideConsent({ ...base, mode: 'allow' })).toMatchObject({ action: 'admit', data: { consent: 'setting_allows', provider: 'replicate' } });
    expect(decideConsent({ ...base, mode: 'deny', consentedDigest: 'd2' })).toMatchObject({ action: 'refuse', code: 'consent_denied' });
  });

  it('does not apply to providers inside the infrastructure or to jobs without local files', () => {
    for (const mode of ['ask', 'deny'] as const) {
      expect(decideConsent({ ...base, mode, applies: false })).toEqual({ action: 'admit', note: null });
      expect(decideConsent({ ...base, mode, files: 0 })).toEqual({ action: 'admit', note: null });
    }
  });
});
