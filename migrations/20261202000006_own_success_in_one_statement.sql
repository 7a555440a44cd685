-- tx2 of a refund's success in one statement, for the answer nearly every cancel gets: PortOne's
-- history continues from what we hold and adds one entry, ours (src/server/refund/own_success.rs
-- says when). It does what `payments::sync`'s statement and `finish_refund_succeeded` do one
-- after the other (`20261201000006_reserve_in_one_round_trip.sql`), under the same payment
-- lock and in the same order of locks, with three writes fewer: the payment is written once
-- (its copy of PortOne's and the tax parts off what remains), our entry is stored linked (not
-- stored, then linked), and no BEGIN or COMMIT of its own is sent. Like that transaction, its
-- commit does not wait for the disk: PortOne's code 0 is the proof and stays at PortOne.
--
-- Answers one row:
--   finished     the refund succeeded now (`requested_at`, `finished_at`);
--   not_pending  someone else had finished the refund: PortOne's payment and our entry
--                stored, nothing else (as `finish_refund_succeeded` leaves it);
--   stored_before  our entry was stored already (a sync was faster): nothing written; the
--                caller records the answer the long way, which reads the entry's link.
create function record_own_success(
    -- PortOne's payment
    p_payment bigint, p_status text, p_cancel_amount bigint, p_cancelled_at timestamptz,
    p_receipt_url text, p_mark_len integer, p_mark_tail text,
    -- our entry
    e_key text, e_cancellation_id text, e_pg_tid text, e_amount bigint, e_cancelled_at timestamptz,
    e_reason text, e_receipt_url text,
    -- the refund
    p_refund uuid, p_actor text, p_detail jsonb, p_checksum bigint, p_amount bigint,
    p_tax_free bigint, p_vat bigint, p_event uuid, p_event_kind text, p_webhook_id text)
returns table (outcome text, requested_at timestamptz, finished_at timestamptz)
rows 1
language plpgsql as $$
#variable_conflict use_column
declare
    requested timestamptz;
    finished timestamptz;
    moved boolean;
begin
    perform set_config('synchronous_commit', 'off', true);
    -- the payment first, as every writer of a payment's entries and refunds takes it
    perform 1 from payments where id = p_payment for update;
    if exists (select 1 from payment_cancellations where payment_id = p_payment and entry_key = e_key) then
        return query select 'stored_before'::text, null::timestamptz, null::timestamptz;
        return;
    end if;
    update refunds set status = 'succeeded', portone_code = 0, portone_message = null,
           pg_tid = e_pg_tid, receipt_url = e_receipt_url, updated_at = now(), finished_at = now()
    where id = p_refund and status in ('pending', 'needs_review')
    returning refunds.created_at, refunds.finished_at into requested, finished;
    moved := found;
    insert into payment_cancellations (payment_id, entry_key, cancellation_id, pg_tid, amount,
                                       cancelled_at, reason, receipt_url, state, refund_id)
    values (p_payment, e_key, e_cancellation_id, e_pg_tid, e_amount, e_cancelled_at, e_reason,
            e_receipt_url, 'succeeded', case when moved then p_refund end);
    -- An older snapshot never moves our copy back (`payments::sync`); the tax parts come off
    -- only when the balance we hold was the one the refund was computed from.
    update payments p set
        status = case when p.cancel_amount <= p_cancel_amount then p_status else p.status end,
        cancelled_at = case when p.cancel_amount <= p_cancel_amount then p_cancelled_at else p.cancelled_at end,
        receipt_url = case when p.cancel_amount <= p_cancel_amount then coalesce(p_receipt_url, p.receipt_url) else p.receipt_url end,
        history_tail_key = case when p.cancel_amount <= p_cancel_amount and p_mark_len >= p.history_len
                                then p_mark_tail else p.history_tail_key end,
        history_len = case when p.cancel_amount <= p_cancel_amount then greatest(p.history_len, p_mark_len)
                           else p.history_len end,
        synced_at = case when p.cancel_amount <= p_cancel_amount then now() else p.synced_at end,
        cancel_amount = greatest(p.cancel_amount, p_cancel_amount),
        tax_free_remaining = case when moved and p.balance_cancel_amount = p.amount - p_checksum
                                  then p.tax_free_remaining - p_tax_free else p.tax_free_remaining end,
        vat_remaining = case when moved and p.balance_cancel_amount = p.amount - p_checksum
                             then p.vat_remaining - p_vat else p.vat_remaining end,
        balance_cancel_amount = case when moved and p.balance_cancel_amount = p.amount - p_checksum
                                     then p.balance_cancel_amount + p_amount else p.balance_cancel_amount end
    where p.id = p_payment;
    if not moved then
        return query select 'not_pending'::text, null::timestamptz, null::timestamptz;
        return;
    end if;
    insert into refund_events (refund_id, payment_id, kind, actor, detail)
    values (p_refund, p_payment, 'succeeded', p_actor, p_detail);
    perform record_refund_event(p_event, p_event_kind, p_webhook_id, p_refund);
    return query select 'finished'::text, requested, finished;
end
$$;
