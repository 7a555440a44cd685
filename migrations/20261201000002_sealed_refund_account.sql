-- A customer's refund account, sealed by the app (AES-256-GCM, key outside the database, see
-- src/server/refund/sealed.rs), kept only while its refund is not final: then a typed-account
-- refund can wait for approval and be resent like any other. The key id says which key
-- sealed it (rotation).
alter table refunds
    add column refund_account_sealed bytea,
    add column refund_account_key_id text;
alter table refunds add constraint refunds_sealed_account_whole
    check ((refund_account_sealed is null) = (refund_account_key_id is null));
alter table refunds add constraint refunds_sealed_account_only_while_open
    check (refund_account_sealed is null or status in ('requested', 'pending', 'needs_review'));

-- Erased by the database itself the moment the refund is final, whichever code finishes it.
create function refunds_erase_sealed_account() returns trigger language plpgsql as $$
begin
    if new.status not in ('requested', 'pending', 'needs_review') then
        new.refund_account_sealed := null;
        new.refund_account_key_id := null;
    end if;
    return new;
end $$;
create trigger refunds_erase_sealed_account before update of status on refunds
    for each row execute function refunds_erase_sealed_account();
