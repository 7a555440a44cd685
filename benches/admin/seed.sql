-- The admin bench's shop: 10,000 users (5 admins), 100,000 payments over a year (one in ten
-- on PortOne V2) and :refunds refunds over that year, stored in the order they were requested
-- as a live shop stores them: mostly succeeded, one in ten failed, and a few of each rare
-- status (pending, requested, needs_review, withdrawn, rejected), so that every filter the
-- page offers finds something, or rightly nothing.
-- Run by benches/admin_pages.rs through psql with `-v refunds=N`. The refunds' own indexes
-- are built after the rows (much faster than row by row) and the kept sums summed once.
\set ON_ERROR_STOP on
truncate refund_events, payment_cancellations, webhook_deliveries, shop_events, refunds,
         payments, users restart identity cascade;
insert into users (email, display_name, password_hash, role)
select 'user' || i || '@example.com', '고객' || i, 'x', case when i <= 5 then 'admin' else 'customer' end
from generate_series(1, 10000) i;
insert into payments (imp_uid, merchant_uid, customer_id, order_name, pay_method, pg_provider,
                      amount, cancel_amount, status, paid_at, api_version)
select 'imp_b' || i, 'ORD-B' || i, 6 + (i % 9995), '상품 ' || (i % 500),
       (array['card','trans','vbank','phone'])[1 + i % 4], 'html5_inicis', 1000000000, 0, 'paid',
       now() - interval '366 days', case when i % 10 = 3 then 'v2' else 'v1' end
from generate_series(1, 100000) i;

create temporary table bench_refund_indexes as
    select indexname, indexdef from pg_indexes i
    where tablename = 'refunds'
      and not exists (select 1 from pg_constraint c where c.conname = i.indexname);
select format('drop index %I', indexname) from bench_refund_indexes \gexec
alter table refunds disable trigger user;

insert into refunds (id, payment_id, idempotency_key, request_fingerprint, amount, checksum, reason,
                     requester_role, requester_id, status, portone_code, portone_message,
                     decision_note, created_at, updated_at, finished_at)
select gen_random_uuid(), 1 + (i::bigint * 7919) % 100000, gen_random_uuid(), 'bench', 1000 + (i % 50) * 100,
       1000000000, (array['단순 변심','상품 불량','배송 지연'])[1 + i % 3],
       case when i % 5 = 0 then 'admin' else 'customer' end,
       case when i % 5 = 0 then 1 else 6 + (i % 9995) end,
       s.status, case when s.status = 'failed' then 1 end,
       case when s.status = 'failed' then '[9029] 상점의 취소가능 금액이 부족합니다.' end,
       case when s.status = 'rejected' then '주문 제작 상품' end,
       t.at, t.at,
       case when s.status in ('pending', 'requested', 'needs_review') then null else t.at end
from generate_series(1, :refunds) i
cross join lateral (
    select now() - interval '365 days' + (i::float8 / :refunds) * interval '365 days' as at) t
cross join lateral (
    -- the rare ones among the newest, where a shop finds them
    select case when i > :refunds - 1000 then 'pending'
                when i % 50000 = 1 then 'requested'
                when i % 100000 = 2 then 'needs_review'
                when i % 100000 = 3 then 'withdrawn'
                when i % 100000 = 4 then 'rejected'
                when (i / 7) % 10 = 0 then 'failed'
                else 'succeeded' end as status) s;

alter table refunds enable trigger user;
select indexdef from bench_refund_indexes \gexec
select refund_totals_rebuild();
analyze;
