-- Indexes for the admin refund list: every filter combined with the keyset order
-- (created_at desc, id desc) stays an index range scan at a million refunds.
create index refunds_status_created_id on refunds (status, created_at desc, id desc);
create index refunds_requester_created_id on refunds (requester_role, created_at desc, id desc);
create index payments_pay_method on payments (pay_method);
create index users_display_name on users (display_name);
