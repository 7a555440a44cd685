-- How much of PortOne's cancel_history our copy holds: the number of entries and the key of
-- the last one. A sync whose history starts with what we hold writes only the entries after
-- it, so the work per refund does not grow with the order's history (src/server/payments.rs).
alter table payments
    add column history_len integer not null default 0 check (history_len >= 0),
    add column history_tail_key text;

