-- Events out to the shop: endpoints the shop (or an admin) registered, each event written in
-- the same transaction as the change that causes it (a transactional outbox), and one delivery
-- per event and endpoint, retried on a schedule until delivered or given up.

create table webhook_endpoints (
    id              bigint generated always as identity primary key,
    url             text not null check (url ~ '^https?://' and length(url) <= 2000),
    -- the event types it takes; null: every type
    events          text[],
    -- the `whsec_…` secret deliveries are signed with (needed in the clear to sign); after a
    -- rotation the previous one signs too until `previous_until`
    secret          text not null check (secret like 'whsec\_%'),
    previous_secret text,
    previous_until  timestamptz,
    disabled_at     timestamptz,
    created_by      text not null,
    created_at      timestamptz not null default now(),
    constraint webhook_endpoints_rotation check ((previous_secret is null) = (previous_until is null))
);

create table shop_events (
    id         uuid primary key,
    -- the order events were written in: one refund's are delivered in it
    seq        bigint generated always as identity unique,
    kind       text not null check (kind in (
                   'refund.requested', 'refund.approved', 'refund.rejected', 'refund.withdrawn',
                   'refund.succeeded', 'refund.failed', 'refund.needs_review',
                   'refund.review_decided', 'payment.cancelled_outside')),
    refund_id  uuid references refunds (id),
    payment_id bigint not null references payments (id),
    -- the exact JSON every attempt sends (and signs)
    body       jsonb not null,
    created_at timestamptz not null default now(),
    constraint shop_events_refund check ((refund_id is null) = (kind = 'payment.cancelled_outside'))
);

create table webhook_deliveries (
    id               bigint generated always as identity primary key,
    event_id         uuid not null references shop_events (id),
    endpoint_id      bigint not null references webhook_endpoints (id) on delete cascade,
    -- copied from the event: a later event of one refund waits for an earlier one
    event_seq        bigint not null,
    refund_id        uuid,
    status           text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts         integer not null default 0 check (attempts >= 0),
    -- when it is due; while an attempt is out, its lease (so no other instance sends it too)
    next_attempt_at  timestamptz not null default now(),
    last_status      integer,
    last_error       text,
    last_duration_ms integer,
    delivered_at     timestamptz,
    created_at       timestamptz not null default now(),
    constraint webhook_deliveries_once unique (event_id, endpoint_id),
    constraint webhook_deliveries_delivered check ((status = 'delivered') = (delivered_at is not null))
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_refund on webhook_deliveries (endpoint_id, refund_id, event_seq) where status = 'pending';
create index webhook_deliveries_endpoint_recent on webhook_deliveries (endpoint_id, id desc);
