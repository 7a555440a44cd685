-- Refund requests per customer per minute, as one counter row per customer (a fixed one-minute
-- window): counting is one statement whose work does not grow with how many requests came
-- before (src/server/refund/store.rs, count_request).
create table refund_request_windows (
    actor        text primary key,
    window_start timestamptz not null,
    requests     integer not null check (requests > 0)
);
