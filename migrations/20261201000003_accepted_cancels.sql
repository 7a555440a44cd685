-- Some PGs cancel asynchronously: PortOne answers code 0 before our entry is in its history.
-- Such a refund stays pending (it still owns the payment's one refund in flight) with the time
-- PortOne accepted it; it becomes succeeded only when the entry appears, and is never resent.
alter table refunds add column accepted_at timestamptz;
alter table refunds add constraint refunds_accepted_only_once_sent
    check (accepted_at is null or status in ('pending', 'succeeded', 'failed', 'needs_review'));
