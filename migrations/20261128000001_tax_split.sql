-- 면세/부가세: what a payment is made of and what remains of each part, from PortOne's
-- `GET /payments/{imp_uid}/balance`, and the parts each refund sent. Null: not known (PortOne
-- gave no breakdown for the payment's PG).
alter table payments
    add column tax_free_amount bigint check (tax_free_amount >= 0),
    add column vat_amount bigint check (vat_amount >= 0),
    add column tax_free_remaining bigint,
    add column vat_remaining bigint,
    -- the cancel_amount the remaining parts belong to: when it differs from cancel_amount a
    -- cancel happened since (in PortOne's console, say) and the balance is read again
    add column balance_cancel_amount bigint;
alter table payments add constraint payments_tax_split check (
    (tax_free_amount is null) = (tax_free_remaining is null)
    and (vat_amount is null) = (vat_remaining is null)
    and tax_free_remaining between 0 and tax_free_amount
    and vat_remaining between 0 and vat_amount
    and coalesce(tax_free_amount, 0) + coalesce(vat_amount, 0) <= amount
);

alter table refunds
    add column tax_free bigint check (tax_free >= 0),
    add column vat_amount bigint check (vat_amount >= 0);
alter table refunds add constraint refunds_tax_parts
    check (coalesce(tax_free, 0) + coalesce(vat_amount, 0) <= amount);

-- 환불 내역 (and its CSV) shows each refund's tax-free part and VAT: the view gains them at
-- its end, so the functions that return its rows keep working.
create or replace view admin_refund_rows as
    select r.id, r.created_at, r.payment_id, p.merchant_uid, p.imp_uid,
           u.display_name as customer_name, u.email as customer_email, p.order_name, p.pay_method,
           r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
           r.portone_message, r.receipt_url, r.tax_free, r.vat_amount
    from refunds r
    join payments p on p.id = r.payment_id
    left join users u on u.id = p.customer_id
    join users ru on ru.id = r.requester_id;
