-- tx1 in one round trip (src/server/refund/reserve.rs). The functions are PL/pgSQL: their
-- statements' plans are kept per connection (an SQL function called from another is planned
-- on every call, which measured costlier than the statements themselves). A refund request reads the payment's
-- facts without a lock (`refund_facts`, with the rate-limit count, the key and a keyless
-- retry, in one statement), validates them in Rust, and then `reserve_refund` — one statement,
-- its own transaction — locks the payment, checks the facts are still those it validated
-- (else 'stale': read and validate again), the key and a keyless retry under the lock, and
-- inserts the refund with its audit event. Same rules, same lock, one durable commit.

-- left from an older rate limit that counted audit events; nothing reads by actor now
drop index refund_events_actor_created;

-- a keyless retry (the seed endpoint without a key) is found by what it asked, per payment
create index refunds_payment_fingerprint on refunds (payment_id, request_fingerprint, created_at desc);

-- What the refund rules read of a payment: the row, the approval policy, whether a refund is in
-- flight and, with `count_holds`, what waiting requests hold.
create function refund_facts(p_payment bigint, p_count_holds boolean)
returns table (
    imp_uid text, merchant_uid text, api_version text, pay_method text, pg_provider text,
    status text, amount bigint, cancel_amount bigint, paid_at timestamptz,
    tax_free_left bigint, vat_left bigint, tax_split_unread boolean,
    auto_max_amount bigint, auto_within_days integer, pending boolean, held bigint)
-- one row at most: said, or the planner counts a thousand and compiles the caller with JIT
rows 1
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select p.imp_uid, p.merchant_uid, p.api_version, p.pay_method, p.pg_provider,
           p.status, p.amount, p.cancel_amount, p.paid_at,
           case when p.balance_cancel_amount = p.cancel_amount then p.tax_free_remaining end,
           case when p.balance_cancel_amount = p.cancel_amount then p.vat_remaining end,
           p.balance_cancel_amount is null
               or (coalesce(p.tax_free_amount, 0) > 0 and p.balance_cancel_amount <> p.cancel_amount),
           (select rp.auto_max_amount from refund_policy rp),
           (select rp.auto_within_days from refund_policy rp),
           exists (select 1 from refunds r where r.payment_id = p.id and r.status = 'pending'),
           coalesce((select sum(r.amount) from refunds r
                     where r.payment_id = p.id and r.status = 'requested' and p_count_holds), 0)::bigint
    from payments p where p.id = p_payment;
end
$$;

-- The refund an idempotency key made on this payment.
create function refund_by_key(p_payment bigint, p_key uuid)
returns table (id uuid, request_fingerprint text)
rows 1
language plpgsql stable as $$
#variable_conflict use_column
begin
    return query
    select r.id, r.request_fingerprint from refunds r where r.payment_id = p_payment and r.idempotency_key = p_key;
end
$$;

-- The newest refund of this payment the requester asked for in the same words within the window
-- (null window: none looked for).
create function same_refund_request(p_payment bigint, p_requester bigint, p_fingerprint text, p_within_secs float8)
returns uuid
language plpgsql stable as $$
begin
    if p_within_secs is null then
        return null;
    end if;
    return (select r.id from refunds r
            where r.payment_id = p_payment and r.request_fingerprint = p_fingerprint
              and r.requester_id = p_requester and r.created_at > now() - make_interval(secs => p_within_secs)
            order by r.created_at desc limit 1);
end
$$;

-- tx1. Answers one of: reserved, busy (locked, or a refund in flight), stale (the facts moved
-- since they were validated), replay (this key, or a keyless retry: the refund it made),
-- key_reused (this key with other input).
create function reserve_refund(
    p_payment bigint, p_key uuid, p_fingerprint text, p_keyless_secs float8,
    p_requester_id bigint, p_requester_role text,
    -- the facts the request was validated against
    e_status text, e_cancel_amount bigint, e_tax_free_left bigint, e_vat_left bigint,
    e_tax_split_unread boolean, e_held bigint,
    -- the refund
    p_id uuid, p_amount bigint, p_checksum bigint, p_reason text, p_holder text, p_bank text,
    p_account_masked text, p_status text, p_lease_secs float8, p_tax_free bigint, p_vat bigint,
    p_sealed bytea, p_key_id text, p_actor text, p_detail jsonb)
returns table (result text, refund_id uuid)
rows 1
language plpgsql as $$
#variable_conflict use_column
declare
    f record;
    existing record;
    again uuid;
begin
    -- never queue behind another refund of this payment: the caller waits outside Postgres
    perform 1 from payments where id = p_payment for update skip locked;
    if not found then
        return query select 'busy'::text, null::uuid;
        return;
    end if;
    -- statements of their own, after the lock: they see what the lock's last holder committed
    select * into f from refund_facts(p_payment, true);
    select * into existing from refund_by_key(p_payment, p_key);
    if found then
        return query select case when existing.request_fingerprint = p_fingerprint
                                 then 'replay' else 'key_reused' end, existing.id;
        return;
    end if;
    if f.pending then
        return query select 'busy'::text, null::uuid;
        return;
    end if;
    again := same_refund_request(p_payment, p_requester_id, p_fingerprint, p_keyless_secs);
    if again is not null then
        return query select 'replay'::text, again;
        return;
    end if;
    if f.status is distinct from e_status or f.cancel_amount is distinct from e_cancel_amount
       or f.tax_free_left is distinct from e_tax_free_left or f.vat_left is distinct from e_vat_left
       or f.tax_split_unread is distinct from e_tax_split_unread or f.held is distinct from e_held then
        return query select 'stale'::text, null::uuid;
        return;
    end if;
    insert into refunds (id, payment_id, idempotency_key, request_fingerprint, amount, checksum, reason,
                         requester_role, requester_id, refund_holder, refund_bank, refund_account_masked,
                         status, attempts, lease_until, tax_free, vat_amount, refund_account_sealed, refund_account_key_id)
    values (p_id, p_payment, p_key, p_fingerprint, p_amount, p_checksum, p_reason,
            p_requester_role, p_requester_id, p_holder, p_bank, p_account_masked,
            p_status, case when p_status = 'pending' then 1 else 0 end,
            now() + make_interval(secs => p_lease_secs), p_tax_free, p_vat, p_sealed, p_key_id);
    insert into refund_events (refund_id, payment_id, kind, actor, detail)
    values (p_id, p_payment, case when p_status = 'requested' then 'requested' else 'reserved' end,
            p_actor, p_detail);
    return query select 'reserved'::text, p_id;
end
$$;

-- A refund's event to the shop, as the refund stands in the calling transaction, and one
-- delivery per enabled endpoint that takes its kind (src/server/outbox/mod.rs). Nothing is
-- written while no endpoint is enabled.
create function record_refund_event(p_event uuid, p_kind text, p_webhook_id text, p_refund uuid)
returns void
language plpgsql volatile as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return;
    end if;
    with event as (
        insert into shop_events (id, kind, refund_id, payment_id, body)
        select p_event, p_kind, r.id, r.payment_id, jsonb_build_object(
            'type', p_kind, 'id', p_webhook_id, 'created_at', now(),
            'data', jsonb_build_object(
                'refund', jsonb_build_object(
                    'id', r.id, 'reference', 'R-' || upper(left(r.id::text, 8)),
                    'status', r.status, 'amount', r.amount, 'tax_free', r.tax_free,
                    'vat_amount', r.vat_amount, 'reason', r.reason, 'requester', r.requester_role,
                    'message', coalesce(r.decision_note, r.portone_message),
                    'receipt_url', r.receipt_url, 'requested_at', r.created_at,
                    'finished_at', r.finished_at),
                'payment', jsonb_build_object(
                    'merchant_uid', p.merchant_uid, 'imp_uid', p.imp_uid,
                    'api_version', p.api_version, 'amount', p.amount,
                    'cancel_amount', p.cancel_amount, 'customer_id', u.shop_customer_id)))
        from refunds r join payments p on p.id = r.payment_id
        left join users u on u.id = p.customer_id
        where r.id = p_refund
        returning id, seq, kind, refund_id)
    insert into webhook_deliveries (event_id, endpoint_id, event_seq, refund_id)
    select event.id, e.id, event.seq, event.refund_id
    from event join webhook_endpoints e
      on e.disabled_at is null and (e.events is null or event.kind = any(e.events));
end
$$;

-- tx2 of a success in one statement (src/server/refund/store.rs, `finish_succeeded`): the
-- refund succeeded with the entry that proves it linked, its audit event, its tax parts off
-- what remains of the payment's, and its event to the shop. No row when the refund was no
-- longer pending or in review (someone else finished it).
create function finish_refund_succeeded(
    p_refund uuid, p_payment bigint, p_entry_key text, p_pg_tid text, p_receipt_url text,
    p_actor text, p_detail jsonb, p_checksum bigint, p_amount bigint, p_tax_free bigint, p_vat bigint,
    p_event uuid, p_event_kind text, p_webhook_id text)
returns table (requested_at timestamptz, finished_at timestamptz)
rows 1
language plpgsql as $$
#variable_conflict use_column
declare
    requested timestamptz;
    finished timestamptz;
begin
    update refunds set status = 'succeeded', portone_code = 0, portone_message = null,
           pg_tid = p_pg_tid, receipt_url = p_receipt_url, updated_at = now(), finished_at = now()
    where id = p_refund and status in ('pending', 'needs_review')
    returning refunds.created_at, refunds.finished_at into requested, finished;
    if not found then
        return;
    end if;
    if p_entry_key is not null then
        update payment_cancellations set refund_id = p_refund
        where payment_id = p_payment and entry_key = p_entry_key and refund_id is null;
    end if;
    insert into refund_events (refund_id, payment_id, kind, actor, detail)
    values (p_refund, p_payment, 'succeeded', p_actor, p_detail);
    update payments set tax_free_remaining = tax_free_remaining - p_tax_free,
           vat_remaining = vat_remaining - p_vat, balance_cancel_amount = balance_cancel_amount + p_amount
    where id = p_payment and balance_cancel_amount = amount - p_checksum;
    perform record_refund_event(p_event, p_event_kind, p_webhook_id, p_refund);
    return query select requested, finished;
end
$$;

-- Counts a refund request against its requester's per-minute limit; returns the requests in
-- the current window, this one included. The calling transaction's commit does not wait for
-- the disk: a count lost in a database crash only loosens the limit for a minute.
create function count_refund_request(p_actor text)
returns integer
language plpgsql volatile as $$
declare
    n integer;
begin
    perform set_config('synchronous_commit', 'off', true);
    insert into refund_request_windows as w (actor, window_start, requests)
    values (p_actor, now(), 1)
    on conflict (actor) do update set
        requests = case when w.window_start > now() - interval '1 minute' then w.requests + 1 else 1 end,
        window_start = case when w.window_start > now() - interval '1 minute' then w.window_start else now() end
    returning requests into n;
    return n;
end
$$;
