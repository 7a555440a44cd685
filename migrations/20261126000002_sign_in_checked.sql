-- Sign-in attempts are recorded before the password is checked (count first, then check), so
-- parallel attempts cannot all pass the limit. `checked` says whether the password was
-- actually verified against the hash; refused attempts are removed again.
alter table sign_in_attempts add column checked boolean not null default false;
create index sign_in_attempts_email_ip on sign_in_attempts (email, ip, attempted_at);
