-- What each spending limit's window holds now, and admission's lock and read in one call (docs/DESIGN.md
-- "Admission"). Windows are in the organisation's time zone (date_trunc: ISO weeks from Monday), summed over the
-- quarter-hour counters of spend_counters.
CREATE FUNCTION ct_limit_usage(p_org TEXT, p_provider TEXT, p_now TIMESTAMPTZ)
RETURNS TABLE (id TEXT, org_id TEXT, provider TEXT, period TEXT, amount_micros BIGINT, action TEXT, created_at TIMESTAMPTZ, start_at TIMESTAMPTZ, end_at TIMESTAMPTZ, spent BIGINT, reserved BIGINT)
LANGUAGE sql STABLE AS $$
  SELECT l.id, l.org_id, l.provider, l.period, l.amount_micros, l.action, l.created_at, w.start_at, w.end_at,
         COALESCE(sum(c.spent_micros), 0)::bigint, COALESCE(sum(c.reserved_micros), 0)::bigint
  FROM cost_limits l
  JOIN organizations o ON o.id = l.org_id
  CROSS JOIN LATERAL (SELECT date_trunc(l.period, p_now AT TIME ZONE o.time_zone) AS local_start) s
  CROSS JOIN LATERAL (SELECT s.local_start AT TIME ZONE o.time_zone AS start_at, (s.local_start + ('1 ' || l.period)::interval) AT TIME ZONE o.time_zone AS end_at) w
  LEFT JOIN spend_counters c ON c.org_id = l.org_id AND (l.provider = '*' OR c.provider = l.provider) AND c.bucket >= w.start_at AND c.bucket < w.end_at
  WHERE l.org_id = p_org AND (p_provider IS NULL OR l.provider IN ('*', p_provider))
  GROUP BY l.id, w.start_at, w.end_at
  ORDER BY l.provider, l.period
$$;

-- Admission's read, one round trip: nothing (and no lock) when no limit applies; else the organisation's row
-- lock (NO KEY UPDATE: admissions take turns, yet the new job's foreign key lock does not conflict), then the
-- usage, read by a statement of its own, whose snapshot includes the commit of the admission that held the
-- lock before (READ COMMITTED: each statement of a volatile function takes a new snapshot).
CREATE FUNCTION ct_admission_usage(p_org TEXT, p_provider TEXT, p_now TIMESTAMPTZ)
RETURNS TABLE (id TEXT, org_id TEXT, provider TEXT, period TEXT, amount_micros BIGINT, action TEXT, created_at TIMESTAMPTZ, start_at TIMESTAMPTZ, end_at TIMESTAMPTZ, spent BIGINT, reserved BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cost_limits WHERE org_id = p_org AND provider IN ('*', p_provider)) THEN
    RETURN;
  END IF;
  PERFORM 1 FROM organizations WHERE id = p_org FOR NO KEY UPDATE;
  RETURN QUERY SELECT * FROM ct_limit_usage(p_org, p_provider, p_now);
END $$;
