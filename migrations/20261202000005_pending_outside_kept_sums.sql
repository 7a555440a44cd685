-- A refund waiting for PortOne's answer (`pending`) is no longer kept in 환불 내역's sums:
-- it is pending for the moment of one cancel (or, after a crash, until the reconciler looks),
-- and putting it in and taking it out again cost every refund two more appended changes and
-- one more trigger call, in tx1 and in tx2 (docs/measurements.md). The totals read the few
-- pending refunds themselves, from the refunds' partial indexes on that status; the chart
-- counts succeeded refunds only and is unchanged. `refund_totals_disagreements` and
-- `refund_totals_rebuild` leave pending refunds out likewise.

create or replace function refund_totals_follow() returns trigger
language plpgsql as $$
declare
    method text;
    version text;
begin
    select p.pay_method, p.api_version into method, version
    from payments p
    where p.id = coalesce(new.payment_id, old.payment_id);
    if tg_op in ('UPDATE', 'DELETE') and old.status <> 'pending' then
        insert into refund_total_changes
        values ((old.created_at at time zone 'Asia/Seoul')::date, old.status, method,
                old.requester_role, version, -1, -old.amount);
    end if;
    if tg_op in ('INSERT', 'UPDATE') and new.status <> 'pending' then
        insert into refund_total_changes
        values ((new.created_at at time zone 'Asia/Seoul')::date, new.status, method,
                new.requester_role, version, 1, new.amount);
    end if;
    return null;
end
$$;

-- A refund reserved or removed as pending moves no sum: the function is not even called.
drop trigger refunds_totals_insert_delete on refunds;
create trigger refunds_totals_insert after insert on refunds
    for each row when (new.status <> 'pending') execute function refund_totals_follow();
create trigger refunds_totals_delete after delete on refunds
    for each row when (old.status <> 'pending') execute function refund_totals_follow();

-- the pending refunds stored so far leave the sums (in this transaction: the trigger change
-- above waited for every refund being written)
insert into refund_total_changes
select (r.created_at at time zone 'Asia/Seoul')::date, r.status, p.pay_method, r.requester_role,
       p.api_version, -count(*), -sum(r.amount)
from refunds r join payments p on p.id = r.payment_id
where r.status = 'pending'
group by 1, 2, 3, 4, 5;

create or replace function refund_status_totals(
    status text, from_day date, to_day date, pay_method text, requester text, api_version text
) returns table (status text, refunds bigint, amount bigint)
language sql stable as $$
    with window_ as (
        select coalesce($2, '-infinity'::date) as lo,
               coalesce($3, 'infinity'::date) as hi,
               -- the first whole month: `lo`'s own when it starts it, else the next
               case when $2 is null then '-infinity'::date
                    when extract(day from $2) = 1 then $2
                    else (date_trunc('month', $2::timestamp) + interval '1 month')::date
               end as whole_from,
               -- the day after the last whole month: `hi`'s own month ends whole only on its
               -- last day
               case when $3 is null then 'infinity'::date
                    else date_trunc('month', ($3 + 1)::timestamp)::date
               end as whole_until
    ), kept as (
        select m.status, m.pay_method, m.requester_role, m.api_version, m.refunds, m.amount
        from refund_month_totals m, window_ w
        where m.month >= w.whole_from and m.month < w.whole_until
        union all
        select d.status, d.pay_method, d.requester_role, d.api_version, d.refunds, d.amount
        from refund_day_totals d, window_ w
        where d.day >= w.lo and d.day <= w.hi and d.day < w.whole_from
        union all
        select d.status, d.pay_method, d.requester_role, d.api_version, d.refunds, d.amount
        from refund_day_totals d, window_ w
        where d.day >= greatest(w.lo, w.whole_from, w.whole_until) and d.day <= w.hi
        union all
        select c.status, c.pay_method, c.requester_role, c.api_version, c.refunds, c.amount
        from refund_total_changes c, window_ w
        where c.day >= w.lo and c.day <= w.hi
        union all
        -- the refunds waiting for PortOne's answer, from their own partial indexes
        select r.status, p.pay_method, r.requester_role, p.api_version, 1, r.amount
        from refunds r join payments p on p.id = r.payment_id, window_ w
        where r.status = 'pending' and ($1 is null or $1 = 'pending')
          and (r.created_at at time zone 'Asia/Seoul')::date >= w.lo
          and (r.created_at at time zone 'Asia/Seoul')::date <= w.hi
    )
    select k.status, sum(k.refunds)::bigint, sum(k.amount)::bigint
    from kept k
    where ($1 is null or k.status = $1)
      and ($4 is null or k.pay_method = $4)
      and ($5 is null or k.requester_role = $5)
      and ($6 is null or k.api_version = $6)
    group by k.status
    having sum(k.refunds) <> 0
$$;

create or replace function refund_totals_disagreements()
returns table (level text, day date, status text, pay_method text, requester_role text,
               api_version text, kept_refunds bigint, kept_amount bigint, summed_refunds bigint,
               summed_amount bigint)
language sql stable as $$
    with kept as (
        select t.day, t.status, t.pay_method, t.requester_role, t.api_version,
               sum(t.refunds)::bigint as refunds, sum(t.amount)::bigint as amount
        from refund_total_rows t
        group by 1, 2, 3, 4, 5
        having sum(t.refunds) <> 0 or sum(t.amount) <> 0
    ), counted as (
        select (r.created_at at time zone 'Asia/Seoul')::date as day, r.status, p.pay_method,
               r.requester_role, p.api_version, count(*) as refunds, sum(r.amount)::bigint as amount
        from refunds r join payments p on p.id = r.payment_id
        where r.status <> 'pending'
        group by 1, 2, 3, 4, 5
    ), months as (
        select m.month as day, m.status, m.pay_method, m.requester_role, m.api_version,
               m.refunds, m.amount
        from refund_month_totals m
        where m.refunds <> 0 or m.amount <> 0
    ), days_by_month as (
        select date_trunc('month', d.day::timestamp)::date as day, d.status, d.pay_method,
               d.requester_role, d.api_version,
               sum(d.refunds)::bigint as refunds, sum(d.amount)::bigint as amount
        from refund_day_totals d
        group by 1, 2, 3, 4, 5
        having sum(d.refunds) <> 0 or sum(d.amount) <> 0
    )
    select 'day', day, status, pay_method, requester_role, api_version,
           coalesce(k.refunds, 0), coalesce(k.amount, 0), coalesce(c.refunds, 0), coalesce(c.amount, 0)
    from kept k full join counted c using (day, status, pay_method, requester_role, api_version)
    where k.refunds is distinct from c.refunds or k.amount is distinct from c.amount
    union all
    select 'month', day, status, pay_method, requester_role, api_version,
           coalesce(m.refunds, 0), coalesce(m.amount, 0), coalesce(d.refunds, 0), coalesce(d.amount, 0)
    from months m full join days_by_month d using (day, status, pay_method, requester_role, api_version)
    where m.refunds is distinct from d.refunds or m.amount is distinct from d.amount
$$;

create or replace function refund_totals_rebuild() returns void
language sql as $$
    truncate refund_day_totals, refund_month_totals, refund_total_changes;
    insert into refund_day_totals
    select (r.created_at at time zone 'Asia/Seoul')::date, r.status, p.pay_method,
           r.requester_role, p.api_version, count(*), sum(r.amount)
    from refunds r join payments p on p.id = r.payment_id
    where r.status <> 'pending'
    group by 1, 2, 3, 4, 5;
    insert into refund_month_totals
    select date_trunc('month', day::timestamp)::date, status, pay_method, requester_role,
           api_version, sum(refunds), sum(amount)
    from refund_day_totals
    group by 1, 2, 3, 4, 5;
$$;
