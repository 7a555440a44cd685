-- 환불 요청: the shop's approval policy. Refunds within it go straight to PortOne; a
-- customer's refund beyond it is stored as `requested` and waits for an admin, who approves
-- it (it becomes `pending` and runs the pipeline) or rejects it with a reason the customer
-- sees; the customer may withdraw it while it waits.

-- One row: the policy in force. Null means "no limit", so the default keeps every refund
-- going straight to PortOne. Each change is an audit event (`refund_events.kind =
-- 'policy_changed'`).
create table refund_policy (
    id               boolean primary key default true check (id),
    -- refunds up to this many won go straight
    auto_max_amount  bigint check (auto_max_amount >= 0),
    -- ... when requested within this many days of payment
    auto_within_days integer check (auto_within_days >= 0),
    updated_at       timestamptz not null default now(),
    updated_by       bigint references users (id)
);
insert into refund_policy (id) values (true);

alter table refunds drop constraint refunds_status_check;
alter table refunds add constraint refunds_status_check check (
    status in ('requested', 'pending', 'succeeded', 'failed', 'needs_review', 'withdrawn', 'rejected'));
alter table refunds drop constraint refunds_finished;
alter table refunds add constraint refunds_finished
    check ((status in ('requested', 'pending', 'needs_review')) = (finished_at is null));
-- why an admin rejected a request: shown to the customer
alter table refunds add column decision_note text check (length(decision_note) between 1 and 200);
alter table refunds add constraint refunds_rejected_with_a_reason
    check (status <> 'rejected' or decision_note is not null);
-- what waits per payment: a request holds its amount of the refundable balance
create index refunds_requested on refunds (payment_id) where status = 'requested';
