-- 환불 내역's rows and filter, each written once: the page, the totals, the daily chart and
-- the CSV all select from `filtered_refunds`. A single-SELECT, STABLE SQL function (and a
-- view) is inlined by the planner, so the callers' keyset condition and ORDER BY still reach
-- the (…, created_at, id) indexes.

-- A refund as 환불 내역 lists it.
create view admin_refund_rows as
    select r.id, r.created_at, r.payment_id, p.merchant_uid, p.imp_uid,
           u.display_name as customer_name, u.email as customer_email, p.order_name, p.pay_method,
           r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
           r.portone_message, r.receipt_url
    from refunds r
    join payments p on p.id = r.payment_id
    left join users u on u.id = p.customer_id
    join users ru on ru.id = r.requester_id;

-- NULL means "any"; `q` matches an order number, an imp_uid, or the customer's e-mail or name.
create function filtered_refunds(
    status text, from_at timestamptz, until_at timestamptz, pay_method text, requester text, q text
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
$$;

-- One page of the filter by keyset: rows newer than ($7, $8), oldest first, when that is
-- given (paging back); else rows older than ($9, $10) or from the newest, newest first.
-- `lim` NULL means every row (the CSV). Only one branch runs: the other's one-time filter is
-- false. Callers put the rows in display order.
create function refund_list_page(
    status text, from_at timestamptz, until_at timestamptz, pay_method text, requester text, q text,
    newer_than_at timestamptz, newer_than_id uuid, older_than_at timestamptz, older_than_id uuid,
    lim bigint
) returns setof admin_refund_rows
language sql stable as $$
    (select * from filtered_refunds($1, $2, $3, $4, $5, $6)
     where $7 is not null and (created_at, id) > ($7, $8)
     order by created_at asc, id asc
     limit $11)
    union all
    (select * from filtered_refunds($1, $2, $3, $4, $5, $6)
     where $7 is null and ($9 is null or (created_at, id) < ($9, $10))
     order by created_at desc, id desc
     limit $11)
$$;
