-- no-transaction
-- A keyless retry (the seed endpoint without an idempotency key) is looked for twice per
-- request, in the look and again under the lock in `reserve_refund`
-- (`same_refund_request`, 20261201000006_reserve_in_one_round_trip.sql). Since
-- 20261202000002_refund_search_keys.sql it walked `refunds_payment_created` through every
-- refund of the payment in the window, reading each one's row for the requester: 0.72 ms
-- and 659 pages at 685 refunds of one payment in a minute (`make bench-refunds`, hot
-- shape), twice per request, growing with the payment's refunds. By its fingerprint the
-- lookup reads the requests asked in the same words only. One more index entry per refund,
-- built without blocking refunds on a table that already holds millions.
create index concurrently if not exists refunds_payment_fingerprint
    on refunds (payment_id, request_fingerprint, created_at desc);
