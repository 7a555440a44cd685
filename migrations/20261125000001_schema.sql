-- The refund service's schema. Append-only: later changes get their own migration.
-- Constraints make impossible states unrepresentable, so a bug in the app fails loudly
-- in the database instead of corrupting money.

create table users (
    id            bigint generated always as identity primary key,
    -- stored lower-cased so sign-in is case-insensitive and unique in one place
    email         text not null unique check (email = lower(email) and email like '_%@_%'),
    display_name  text not null check (length(display_name) between 1 and 100),
    password_hash text not null,
    role          text not null check (role in ('customer', 'admin')),
    created_at    timestamptz not null default now()
);

-- Our copy of PortOne's payment. PortOne is the source of truth for amounts and cancels;
-- every sync overwrites these columns from its answer and keeps the raw JSON.
create table payments (
    id            bigint generated always as identity primary key,
    imp_uid       text not null unique,
    merchant_uid  text not null unique,
    -- null when a webhook imported a payment whose buyer has no account here
    customer_id   bigint references users (id),
    order_name    text not null,
    pay_method    text not null,
    pg_provider   text not null,
    currency      text not null default 'KRW',
    amount        bigint not null check (amount >= 0),
    cancel_amount bigint not null default 0 check (cancel_amount >= 0 and cancel_amount <= amount),
    status        text not null check (status in ('ready', 'paid', 'cancelled', 'failed')),
    buyer_name    text,
    buyer_email   text,
    paid_at       timestamptz,
    cancelled_at  timestamptz,
    receipt_url   text,
    vbank_code    text,
    vbank_name    text,
    vbank_num     text,
    vbank_holder  text,
    portone_raw   jsonb,
    synced_at     timestamptz,
    created_at    timestamptz not null default now()
);
create index payments_customer_paid_at on payments (customer_id, paid_at desc);

-- One row per refund request that passed validation.
create table refunds (
    id                     uuid primary key,
    payment_id             bigint not null references payments (id),
    -- rendered into the refund form; the same key never refunds twice
    idempotency_key        uuid not null,
    -- what the request asked for, so a replay with other input is refused
    request_fingerprint    text not null,
    amount                 bigint not null check (amount > 0),
    -- the cancellable balance we sent to PortOne as `checksum`
    checksum               bigint not null check (checksum >= amount),
    reason                 text not null check (length(reason) between 1 and 200),
    requester_role         text not null check (requester_role in ('customer', 'admin')),
    requester_id           bigint not null references users (id),
    refund_holder          text,
    refund_bank            text,
    -- full account numbers are never stored
    refund_account_masked  text,
    status                 text not null check (status in ('pending', 'succeeded', 'failed')),
    portone_code           integer,
    portone_message        text,
    pg_tid                 text,
    receipt_url            text,
    attempts               integer not null default 0 check (attempts >= 0),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    finished_at            timestamptz,
    constraint refunds_idempotency unique (payment_id, idempotency_key),
    constraint refunds_finished check ((status = 'pending') = (finished_at is null))
);
-- At most one refund in flight per payment: the cap on money out holds across app instances.
create unique index refunds_one_pending_per_payment on refunds (payment_id) where status = 'pending';
create index refunds_pending_created on refunds (created_at) where status = 'pending';
create index refunds_created_id on refunds (created_at desc, id desc);

-- PortOne's cancel_history, one row per entry. Entries made in PortOne's console have no refund.
create table payment_cancellations (
    id              bigint generated always as identity primary key,
    payment_id      bigint not null references payments (id),
    -- cancellation_id when PortOne sends one, otherwise pg_tid/cancelled_at/amount
    entry_key       text not null,
    cancellation_id text,
    pg_tid          text,
    amount          bigint not null check (amount > 0),
    cancelled_at    timestamptz not null,
    reason          text,
    receipt_url     text,
    refund_id       uuid unique references refunds (id),
    created_at      timestamptz not null default now(),
    constraint payment_cancellations_entry unique (payment_id, entry_key)
);

-- Audit trail: every state change and PortOne exchange. Never tokens, secrets or account numbers.
create table refund_events (
    id          bigint generated always as identity primary key,
    refund_id   uuid references refunds (id),
    payment_id  bigint references payments (id),
    kind        text not null,
    -- 'customer:<id>', 'admin:<id>', 'reconciler', 'webhook', 'system'
    actor       text not null,
    detail      jsonb not null default '{}',
    created_at  timestamptz not null default now()
);
create index refund_events_refund on refund_events (refund_id, id);
create index refund_events_payment on refund_events (payment_id, id);

-- Sign-in attempts, for per-account and per-address rate limits shared by every app instance.
create table sign_in_attempts (
    id           bigint generated always as identity primary key,
    email        text not null,
    ip           text not null,
    succeeded    boolean not null,
    attempted_at timestamptz not null default now()
);
create index sign_in_attempts_email on sign_in_attempts (email, attempted_at);
create index sign_in_attempts_ip on sign_in_attempts (ip, attempted_at);

-- The session store's table (tower-sessions-sqlx-store's layout), created here so the whole
-- schema lives in migrations.
create schema tower_sessions;
create table tower_sessions.session (
    id          text primary key not null,
    data        bytea not null,
    expiry_date timestamptz not null
);
