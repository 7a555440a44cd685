-- 환불 내역's totals and daily chart at any size. Counting the filter's rows took seconds at
-- ten million refunds; these sums per KST day, status, pay method, requester role and PortOne
-- version answer in a millisecond. Triggers on `refunds` keep them in the very transaction
-- that inserts a refund or changes its status or amount, so they cannot disagree with the
-- rows (`refund_totals_disagreements` says where they would; tests and the torture run ask).
--
-- A change only appends to `refund_total_changes`: one row of sums per day and status would
-- otherwise be locked by every refund of that day until its commit reached the disk, and
-- concurrent refunds would queue on it. `fold_refund_total_changes` moves the appended rows
-- into `refund_day_totals` in one transaction, every few seconds (src/server/refund_totals.rs).
-- Readers sum both tables in one statement, so they never see a fold half done.

create table refund_day_totals (
    day date not null,
    status text not null,
    pay_method text not null,
    requester_role text not null,
    api_version text not null,
    refunds bigint not null,
    amount bigint not null,
    primary key (day, status, pay_method, requester_role, api_version)
);

-- The same sums per KST month (`month` its first day): a year of 환불 내역 reads twelve
-- months and the days at the window's ragged edges, not every day.
create table refund_month_totals (
    month date not null check (extract(day from month) = 1),
    status text not null,
    pay_method text not null,
    requester_role text not null,
    api_version text not null,
    refunds bigint not null,
    amount bigint not null,
    primary key (month, status, pay_method, requester_role, api_version)
);

create table refund_total_changes (
    day date not null,
    status text not null,
    pay_method text not null,
    requester_role text not null,
    api_version text not null,
    refunds bigint not null,
    amount bigint not null
);

-- One refund leaves its old group (update, delete) and joins its new one (insert, update).
-- A payment's pay method and version never change once stored.
create function refund_totals_follow() returns trigger
language plpgsql as $$
declare
    method text;
    version text;
begin
    select p.pay_method, p.api_version into method, version
    from payments p
    where p.id = coalesce(new.payment_id, old.payment_id);
    if tg_op in ('UPDATE', 'DELETE') then
        insert into refund_total_changes
        values ((old.created_at at time zone 'Asia/Seoul')::date, old.status, method,
                old.requester_role, version, -1, -old.amount);
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into refund_total_changes
        values ((new.created_at at time zone 'Asia/Seoul')::date, new.status, method,
                new.requester_role, version, 1, new.amount);
    end if;
    return null;
end
$$;

create trigger refunds_totals_insert_delete after insert or delete on refunds
    for each row execute function refund_totals_follow();
-- Most updates of a refund (attempts, lease, PortOne's message) move no sum: the function is
-- not even called for them.
create trigger refunds_totals_update after update of status, amount, created_at, requester_role, payment_id
    on refunds for each row
    when (old.status is distinct from new.status or old.amount is distinct from new.amount
          or old.created_at is distinct from new.created_at
          or old.requester_role is distinct from new.requester_role
          or old.payment_id is distinct from new.payment_id)
    execute function refund_totals_follow();

create function refund_totals_reset() returns trigger
language plpgsql as $$
begin
    truncate refund_day_totals, refund_month_totals, refund_total_changes;
    return null;
end
$$;

create trigger refunds_totals_truncate after truncate on refunds
    for each statement execute function refund_totals_reset();

-- Moves every committed change into the day sums; returns how many it moved. Two folds at
-- once move each change once: the second waits for the first's rows and skips them.
create function fold_refund_total_changes() returns bigint
language sql as $$
    with moved as (
        delete from refund_total_changes returning *
    ), summed as (
        select day, status, pay_method, requester_role, api_version,
               sum(refunds)::bigint as refunds, sum(amount)::bigint as amount
        from moved
        group by day, status, pay_method, requester_role, api_version
    ), folded_days as (
        insert into refund_day_totals as t
        select * from summed
        on conflict (day, status, pay_method, requester_role, api_version)
        do update set refunds = t.refunds + excluded.refunds, amount = t.amount + excluded.amount
        returning 1
    ), folded_months as (
        insert into refund_month_totals as t
        select date_trunc('month', day::timestamp)::date, status, pay_method, requester_role,
               api_version, sum(refunds)::bigint, sum(amount)::bigint
        from summed
        group by 1, 2, 3, 4, 5
        on conflict (month, status, pay_method, requester_role, api_version)
        do update set refunds = t.refunds + excluded.refunds, amount = t.amount + excluded.amount
        returning 1
    )
    select count(*) from moved
$$;

-- Both tables as one; a group whose changes have not been folded yet appears twice.
create view refund_total_rows as
    select day, status, pay_method, requester_role, api_version, refunds, amount
    from refund_day_totals
    union all
    select day, status, pay_method, requester_role, api_version, refunds, amount
    from refund_total_changes;

-- Count and sum per status for 환불 내역's filter without a search (NULL means "any"; days
-- are KST days, both ends included): whole months inside the window from the month sums, the
-- days before the first whole month and after the last from the day sums (two index ranges),
-- and the changes not folded yet.
create function refund_status_totals(
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

-- Refunded won per KST day for the same filter, days without refunds left out.
create function refund_daily_refunded(
    status text, from_day date, to_day date, pay_method text, requester text, api_version text
) returns table (day date, refunded bigint)
language sql stable as $$
    select t.day, sum(t.amount)::bigint
    from refund_total_rows t
    where t.status = 'succeeded'
      and ($1 is null or $1 = 'succeeded')
      and t.day >= $2
      and t.day <= $3
      and ($4 is null or t.pay_method = $4)
      and ($5 is null or t.requester_role = $5)
      and ($6 is null or t.api_version = $6)
    group by t.day
    having sum(t.amount) <> 0
$$;

-- Groups whose sums differ from what they sum, with both; empty when all is well. `day`
-- groups: the day sums and the changes against the rows; `month` groups (`day` the month's
-- first): the month sums against the day sums.
create function refund_totals_disagreements()
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

-- Sums every refund afresh: for the refunds already stored, and for tools that load rows with
-- the triggers off (benches/admin/seed.sql). Takes the sums' tables for itself meanwhile.
create function refund_totals_rebuild() returns void
language sql as $$
    truncate refund_day_totals, refund_month_totals, refund_total_changes;
    insert into refund_day_totals
    select (r.created_at at time zone 'Asia/Seoul')::date, r.status, p.pay_method,
           r.requester_role, p.api_version, count(*), sum(r.amount)
    from refunds r join payments p on p.id = r.payment_id
    group by 1, 2, 3, 4, 5;
    insert into refund_month_totals
    select date_trunc('month', day::timestamp)::date, status, pay_method, requester_role,
           api_version, sum(refunds), sum(amount)
    from refund_day_totals
    group by 1, 2, 3, 4, 5;
$$;

select refund_totals_rebuild();

-- 환불 내역's search drives from the payments it names (an order number, an imp_uid, or the
-- customer's e-mail or name, each indexed), never from refunds in time order: a search that
-- matched few or no payments walked every refund. The found payments come first, as a list,
-- so that each is joined by its key (as `a.payment_id = any (…)` the planner hashed every
-- payment to join a hundred refunds). Callers use these instead of
-- `filtered_refunds` whenever there is a search (src/server/admin.rs); both are one SELECT
-- and inlined, like `filtered_refunds` (`20261127000001_admin_refund_filter.sql`).
create function searched_refunds(
    q text, status text, from_at timestamptz, until_at timestamptz, pay_method text,
    requester text, api_version text
) returns setof admin_refund_rows
language sql stable as $$
    select a.*
    from unnest(array(
             select id from payments where merchant_uid = $1 or imp_uid = $1
             union
             select pp.id from payments pp join users uu on uu.id = pp.customer_id
             where uu.email = lower($1) or uu.display_name = $1)) as found (payment_id)
    join admin_refund_rows a on a.payment_id = found.payment_id
    where ($2 is null or a.status = $2)
      and ($3 is null or a.created_at >= $3)
      and ($4 is null or a.created_at < $4)
      and ($5 is null or a.pay_method = $5)
      and ($6 is null or a.requester_role = $6)
      and ($7 is null or a.api_version = $7)
$$;

-- Every refund of the filter, searched or not: for sums over them.
create function matching_refunds(
    status text, from_at timestamptz, until_at timestamptz, pay_method text, requester text, q text,
    api_version text
) returns setof admin_refund_rows
language sql stable as $$
    select * from filtered_refunds($1, $2, $3, $4, $5, null, $7) where $6 is null
    union all
    select * from searched_refunds($6, $1, $2, $3, $4, $5, $7) where $6 is not null
$$;

-- Pages are read by statements of their own now (src/server/admin.rs), each inlining one
-- function: planning `refund_list_page` inlined five (itself and four filters) on every call,
-- 4 ms of a 6 ms page.
drop function refund_list_page(text, timestamptz, timestamptz, text, text, text, text,
                               timestamptz, uuid, timestamptz, uuid, bigint);
