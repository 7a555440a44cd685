-- Exactly once, by evidence (src/server/refund/decide.rs):
-- * `needs_review`: PortOne's history neither proves nor rules out this refund's cancel; an
--   admin decides (link to an entry as succeeded, or mark failed). Not finished, not pending:
--   it holds no lease and does not block later refunds of the payment.
-- * `lease_until`: the attempt that owns a pending refund. The reconciler takes a refund only
--   after its lease ran out, and renews the lease before each PortOne call it makes.
alter table refunds drop constraint refunds_status_check;
alter table refunds add constraint refunds_status_check
    check (status in ('pending', 'succeeded', 'failed', 'needs_review'));
alter table refunds drop constraint refunds_finished;
alter table refunds add constraint refunds_finished
    check ((status in ('pending', 'needs_review')) = (finished_at is null));

alter table refunds add column lease_until timestamptz not null default now();
drop index refunds_pending_created;
create index refunds_pending_lease on refunds (lease_until) where status = 'pending';
create index refunds_needs_review on refunds (created_at) where status = 'needs_review';
