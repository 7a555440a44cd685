-- Refund requests are rate limited per requester, counted from the audit trail.
create index refund_events_actor_created on refund_events (actor, created_at);
