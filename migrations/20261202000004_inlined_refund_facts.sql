-- What a refund request reads of a payment, as SQL functions the planner inlines into the
-- statement that calls them (src/server/refund/reserve.rs: the look, `lock`, and
-- `reserve_refund`). As PL/pgSQL each call ran a function of its own: its statement started
-- an executor and filled a tuple store for one row, twice per refund request for each
-- function. Inlined, the caller's plan holds the query itself and is kept per connection
-- like any other; `rows 1` is no longer needed, since the planner sees the query.
create or replace function refund_facts(p_payment bigint, p_count_holds boolean)
returns table (
    imp_uid text, merchant_uid text, api_version text, pay_method text, pg_provider text,
    status text, amount bigint, cancel_amount bigint, paid_at timestamptz,
    tax_free_left bigint, vat_left bigint, tax_split_unread boolean,
    auto_max_amount bigint, auto_within_days integer, pending boolean, held bigint)
language sql stable as $$
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
    from payments p where p.id = p_payment
$$;

create or replace function refund_by_key(p_payment bigint, p_key uuid)
returns table (id uuid, request_fingerprint text)
language sql stable as $$
    select r.id, r.request_fingerprint from refunds r where r.payment_id = p_payment and r.idempotency_key = p_key
$$;

-- A status change of a refund that holds no sealed account has nothing to erase: the trigger
-- is not even called for it (most refunds: a card's money goes back without an account).
drop trigger refunds_erase_sealed_account on refunds;
create trigger refunds_erase_sealed_account before update of status on refunds
    for each row
    when (new.refund_account_sealed is not null or new.refund_account_key_id is not null)
    execute function refunds_erase_sealed_account();
