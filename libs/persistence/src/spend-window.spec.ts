import { isTimeZone, periodWindow } from './spend.repository';

describe('spending limit windows', () => {
  const now = new Date('2026-12-02T02:30:00Z'); // a Wednesday; still Tuesday evening in New York

  it('starts a day at midnight in the organisation time zone', () => {
    expect(periodWindow('day', 'UTC', now)).toEqual({ start: new Date('2026-12-02T00:00:00Z'), end: new Date('2026-12-03T00:00:00Z') });
    expect(periodWindow('day', 'America/New_York', now)).toEqual({ start: new Date('2026-12-01T05:00:00Z'), end: new Date('2026-12-02T05:00:00Z') });
    expect(periodWindow('day', 'Asia/Tokyo', now).start).toEqual(new Date('2026-12-01T15:00:00Z'));
  });

  it('starts a week on Monday and a month on the first', () => {
    expect(periodWindow('week', 'UTC', now)).toEqual({ start: new Date('2026-11-30T00:00:00Z'), end: new Date('2026-12-07T00:00:00Z') });
    expect(periodWindow('month', 'Europe/Berlin', now)).toEqual({ start: new Date('2026-11-30T23:00:00Z'), end: new Date('2026-12-31T23:00:00Z') });
  });

  it('keeps a day 23 or 25 hours long across a daylight-saving change', () => {
    const spring = periodWindow('day', 'Europe/Berlin', new Date('2026-03-29T12:00:00Z'));
    expect(spring.end.getTime() - spring.start.getTime()).toBe(23 * 3_600_000);
  });

  it('knows an IANA time zone from a made-up one', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
