-- PortOne V2 beside V1. A payment knows the API it was made through: V1 addresses it by
-- imp_uid, V2 by its paymentId (our merchant_uid). A V2 cancellation has a state: REQUESTED
-- (accepted by the PG, no money moved yet: vbank refunds on several PGs), SUCCEEDED or FAILED;
-- every V1 entry is a succeeded one. Only succeeded entries are money returned.
alter table payments
    add column api_version text not null default 'v1' check (api_version in ('v1', 'v2'));

alter table payment_cancellations
    add column state text not null default 'succeeded'
        check (state in ('requested', 'succeeded', 'failed'));

-- 환불 내역 shows and filters by the payment's API version: the view gains it at its end,
-- and the filter (written once, as before) takes it as its seventh argument.
create or replace view admin_refund_rows as
    select r.id, r.created_at, r.payment_id, p.merchant_uid, p.imp_uid,
           u.display_name as customer_name, u.email as customer_email, p.order_name, p.pay_method,
           r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
           r.portone_message, r.receipt_url, r.tax_free, r.vat_amount,
           (p.registered_amount is not null and p.registered_amount <> p.amount) as amount_mismatch,
           p.customer_id is null as unassigned,
           p.api_version
    from refunds r
    join payments p on p.id = r.payment_id
    left join users u on u.id = p.customer_id
    join users ru on ru.id = r.requester_id;

drop function refund_list_page(text, timestamptz, timestamptz, text, text, text,
                               timestamptz, uuid, timestamptz, uuid, bigint);
drop function filtered_refunds(text, timestamptz, timestamptz, text, text, text);

-- NULL means "any"; `q` matches an order number, an imp_uid, or the customer's e-mail or name.
create function filtered_refunds(
    status text, from_at timestamptz, until_at timestamptz, pay_method text, requester text, q text,
    api_version text
) returns setof admin_refund_rows
language sql stable as $$
    select a.*
    from admin_refund_rows a
    where ($1 is null or a.status = $1)
      and ($2 is null or a.created_at >= $2)
      and ($3 is null or a.created_at < $3)
      and ($4 is null or a.pay_method = $4)
      and ($5 is null or a.requester_role = $5)
      and ($6 is null or a.payment_id in (
             select id from payments where merchant_uid = $6 or imp_uid = $6
             union
             select pp.id from payments pp join users uu on uu.id = pp.customer_id
             where uu.email = lower($6) or uu.display_name = $6))
      and ($7 is null or a.api_version = $7)
$$;

-- One page of the filter by keyset, as before (`20261127000001_admin_refund_filter.sql`).
create function refund_list_page(
    status text, from_at timestamptz, until_at timestamptz, pay_method text, requester text, q text,
    api_version text,
    newer_than_at timestamptz, newer_than_id uuid, older_than_at timestamptz, older_than_id uuid,
    lim bigint
) returns setof admin_refund_rows
language sql stable as $$
    (select * from filtered_refunds($1, $2, $3, $4, $5, $6, $7)
     where $8 is not null and (created_at, id) > ($8, $9)
     order by created_at asc, id asc
     limit $12)
    union all
    (select * from filtered_refunds($1, $2, $3, $4, $5, $6, $7)
     where $8 is null and ($10 is null or (created_at, id) < ($10, $11))
     order by created_at desc, id desc
     limit $12)
$$;
