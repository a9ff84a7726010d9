-- One customer matter, one case: a cause about a ticket (or callback) that already has an
-- unclosed case joins it as an event of that case instead of opening another. The event
-- keeps the cause's source, unique like a case's, so a cause is still escalated once.
-- Additive: an older instance beside a newer one leaves the column empty.
ALTER TABLE escalation_events ADD COLUMN source TEXT;
CREATE UNIQUE INDEX escalation_events_source ON escalation_events (source);
CREATE INDEX escalations_callback ON escalations (callback_id);
