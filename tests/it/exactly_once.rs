//! Exactly once against a gateway that can fool us: console cancels interleaved with our
//! refunds, attempts still in flight, PortOne applying a cancel late, and `null` fields.
//! Real Postgres, the simulator over HTTP.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use portone_refund::model::{RefundOutcome, RefundOutcomeStatus};
use portone_refund::server::gateway::from_v1;
use portone_refund::server::refund::review::{self, ReviewDecision};
use portone_refund::server::refund::{
    self, decide, reconcile, rules::RefundForm, PipelineSettings, RefundCommand,
};
use portone_v1::Payment;
use sqlx::PgPool;
use uuid::Uuid;

pub(crate) async fn refund(app: &TestApp, p: &Payment, amount: i64) -> RefundOutcome {
    let form = RefundForm {
        amount: Some(amount.to_string()),
        reason: "단순 변심".into(),
        ..Default::default()
    };
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form,
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    let settings = PipelineSettings { lease: TEST_LEASE, ..Default::default() };
    refund::request_refund(&app.pool, &app.portone, &settings, &app.users.minsu, cmd).await.unwrap()
}

pub(crate) async fn status(app: &TestApp, refund_id: &Uuid) -> String {
    sqlx::query_scalar!("select status from refunds where id = $1", *refund_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn console_cancel(app: &TestApp, p: &Payment, amount: i64) {
    let res = app
        .console_cancel(
            &p.imp_uid,
            ConsoleCancel { amount: Some(amount), reason: Some("콘솔 취소".into()) },
        )
        .await;
    assert_eq!(res["webhook"]["status"], 200, "{res}");
}

/// The entries at PortOne that carry this refund's reference.
pub(crate) async fn entries_of(app: &TestApp, p: &Payment, refund_id: &Uuid) -> usize {
    let reference = decide::reference(*refund_id);
    app.sim_payment(&p.imp_uid)
        .await
        .history()
        .iter()
        .filter(|e| e.reason.as_deref().and_then(decide::reference_in) == Some(reference.as_str()))
        .count()
}

pub(crate) async fn linked_to(app: &TestApp, refund_id: &Uuid) -> i64 {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from payment_cancellations where refund_id = $1"#,
        *refund_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_console_cancel_synced_before_our_failed_attempt_is_not_our_success(pool: PgPool) {
    let app = spawn_app(pool).await;
    // the first attempt fails before PortOne applies it: a 5xx, or getToken failing after a 401
    for faults in [
        vec![FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })],
        vec![
            FaultRule::once(FaultEndpoint::Cancel, FaultKind::ExpireToken),
            FaultRule::once(FaultEndpoint::Token, FaultKind::ErrorBefore { status: 503 }),
        ],
    ] {
        let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
        console_cancel(&app, &p, 1000).await;
        app.faults(&faults).await;
        let o = refund(&app, &p, 1000).await;
        assert_eq!(o.status, RefundOutcomeStatus::Pending, "{faults:?}");
        let report = app.reconcile().await;
        assert_eq!((report.resent, report.succeeded), (1, 1), "{faults:?}: {report:?}");
        assert_eq!(status(&app, &o.refund_id).await, "succeeded");
        assert_eq!(
            app.sim_payment(&p.imp_uid).await.cancel_amount,
            2000,
            "{faults:?}: the customer's money really moved"
        );
        assert_eq!(entries_of(&app, &p, &o.refund_id).await, 1);
        assert_eq!(
            linked_to(&app, &o.refund_id).await,
            1,
            "linked to its own entry, not the console's"
        );
    }
}

#[sqlx::test]
async fn a_console_cancel_while_our_refund_is_pending_goes_to_review(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    let o = refund(&app, &p, 1000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    console_cancel(&app, &p, 1000).await;
    let report = app.reconcile().await;
    assert_eq!(
        (report.needs_review, report.succeeded, report.failed, report.resent),
        (1, 0, 0, 0),
        "{report:?}"
    );
    assert_eq!(status(&app, &o.refund_id).await, "needs_review");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 1000, "no second cancel was sent");
    // the customer still sees 처리 중; a later pass leaves the decision to the admin
    let mut conn = app.pool.acquire().await.unwrap();
    let seen = refund::latest_outcome(
        &app.pool,
        sqlx::query_scalar!("select id from payments where imp_uid = $1", p.imp_uid)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        app.users.minsu.id,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(seen.status, RefundOutcomeStatus::Pending);
    assert_eq!(app.reconcile().await, Default::default());

    // the admin may not link an entry of another refund's amount, and marks it failed instead
    let id = o.refund_id;
    let wrong = review::decide(
        &app.pool,
        &app.users.admin,
        id,
        ReviewDecision::Succeeded { entry_key: "nope".into() },
    )
    .await;
    assert!(wrong.is_err());
    review::decide(&app.pool, &app.users.admin, id, ReviewDecision::Failed).await.unwrap();
    assert_eq!(status(&app, &o.refund_id).await, "failed");
    let audited = sqlx::query_scalar!(
        r#"select actor from refund_events where refund_id = $1 and kind = 'review_failed'"#,
        id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, format!("admin:{}", app.users.admin.id));
    // the customer can ask again, and this time the money moves
    assert_eq!(refund(&app, &p, 1000).await.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 2000);
}

#[sqlx::test]
async fn an_admin_links_the_entry_that_proves_a_reviewed_refund(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    let o = refund(&app, &p, 2000).await;
    console_cancel(&app, &p, 2000).await;
    app.reconcile().await;
    assert_eq!(status(&app, &o.refund_id).await, "needs_review");
    // say the operator cancelled in the console *for* this customer: the admin links it
    let entry_key = sqlx::query_scalar!(
        "select c.entry_key from payment_cancellations c join payments p on p.id = c.payment_id where p.imp_uid = $1", p.imp_uid
    ).fetch_one(&app.pool).await.unwrap();
    let id = o.refund_id;
    review::decide(
        &app.pool,
        &app.users.admin,
        id,
        ReviewDecision::Succeeded { entry_key: entry_key.clone() },
    )
    .await
    .unwrap();
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    // decided once: a second decision finds nothing to review
    assert!(review::decide(&app.pool, &app.users.admin, id, ReviewDecision::Failed).await.is_err());
}

#[sqlx::test]
async fn the_reconciler_leaves_an_attempt_in_flight_alone(pool: PgPool) {
    let app = Arc::new(spawn_app(pool).await);
    for serialized in [true, false] {
        app.sim_config(ConfigChange { serialize_cancels: Some(serialized), ..Default::default() })
            .await;
        let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
        // PortOne is slow: it checks at once and applies a second later
        app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DelayApply { ms: 1000 })])
            .await;
        let request = {
            let (app, p) = (app.clone(), p.clone());
            tokio::spawn(async move { refund(&app, &p, 1000).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        // a reconciler pass while the attempt is in flight: its lease is live
        let report =
            reconcile::reconcile_once(&app.pool, &app.portone, &test_pipeline()).await.unwrap();
        assert_eq!(report, Default::default(), "serialized={serialized}");
        let o = request.await.unwrap();
        assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "serialized={serialized}");
        let at_sim = app.sim_payment(&p.imp_uid).await;
        assert_eq!(
            (at_sim.cancel_amount, at_sim.history().len()),
            (1000, 1),
            "serialized={serialized}: refunded once"
        );
    }
}

#[sqlx::test]
async fn a_refused_resend_that_our_late_first_attempt_explains_is_a_success(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // PortOne accepts the first cancel but applies it only after our client gave up
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DelayApply { ms: 2500 })]).await;
    let o = refund(&app, &p, 1000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    // the lease ran out early (say a clock jumped): the resend waits behind the first cancel
    // at PortOne, which then refuses it — our own first attempt explains the refusal
    let report = app.reconcile().await;
    assert_eq!((report.resent, report.succeeded, report.failed), (1, 1, 0), "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 1000);
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
}

#[sqlx::test]
async fn null_fields_from_portone_never_decide_a_refund(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // the cancel's answer carries no history: succeeded by PortOne's word, linked by the
    // `cancelled` webhook that `enable_webhook` asks for
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::NullOptionals)]).await;
    let o = refund(&app, &p, 1000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    let mut linked = 0;
    for _ in 0..50 {
        linked = linked_to(&app, &o.refund_id).await;
        if linked == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(linked, 1, "the webhook's sync linked the entry");

    // an unknown outcome, and lookups that leave the history out: neither success nor review
    app.faults(&[
        FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorAfter { status: 502 }),
        FaultRule::always(FaultEndpoint::Payment, FaultKind::NullOptionals),
    ])
    .await;
    let o = refund(&app, &p, 2000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let report = app.reconcile().await;
    assert_eq!(
        (report.still_pending, report.succeeded, report.needs_review),
        (1, 0, 0),
        "{report:?}"
    );
    app.control.clear_faults().await.unwrap();
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 3000);
}

#[sqlx::test]
async fn an_entry_portone_sends_unreadable_holds_up_only_the_refund_it_is_read_for(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    assert_eq!(refund(&app, &p, 1000).await.status, RefundOutcomeStatus::Succeeded);
    let unreadable = [FaultRule::once(FaultEndpoint::Cancel, FaultKind::UnreadableOldestEntry)];
    // The unreadable entry is the last one held, which judging the usual answer reads: as
    // with an answer not read at all, the refund stays pending and the reconciler finds it.
    app.faults(&unreadable).await;
    let o = refund(&app, &p, 2000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let unknown = sqlx::query_scalar!(
        "select count(*) from refund_events where refund_id = $1 and kind = 'outcome_unknown'",
        o.refund_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unknown, Some(1));
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    // Now two entries are held and the unreadable one is older than the last: our own entry,
    // read, proves the refund at once.
    app.faults(&unreadable).await;
    let o = refund(&app, &p, 3000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 6000);
}

#[sqlx::test]
async fn an_older_snapshot_never_moves_cancel_amount_backwards(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let older = app.sim_payment(&p.imp_uid).await;
    console_cancel(&app, &p, 4000).await;
    let newer = app.sim_payment(&p.imp_uid).await;
    let payment_id = payment_id_of(&app, &p).await;
    use portone_refund::server::refund::observe::record_by_id;
    record_by_id(&app.pool, payment_id, &from_v1(newer.clone())).await.unwrap();
    record_by_id(&app.pool, payment_id, &from_v1(older.clone())).await.unwrap();
    let stored =
        sqlx::query!("select cancel_amount, status from payments where id = $1", payment_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((stored.cancel_amount, stored.status.as_str()), (4000, "cancelled"));
}

#[sqlx::test]
async fn money_that_moves_for_a_failed_refund_is_flagged(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(
        FaultEndpoint::Cancel,
        FaultKind::PgReject { message: "PG 통신 오류".into() },
    )])
    .await;
    let o = refund(&app, &p, 1000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Failed);
    // PortOne's books later show a cancel with this refund's reference (a PG that applied it
    // anyway): the next sync flags the refund for review instead of leaving it failed
    let reason = decide::reason_for_portone("단순 변심", o.refund_id);
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(1000), reason: Some(reason.to_string()) },
    )
    .await;
    assert_eq!(status(&app, &o.refund_id).await, "needs_review");
}

async fn payment_id_of(app: &TestApp, p: &Payment) -> i64 {
    sqlx::query_scalar!("select id from payments where imp_uid = $1", p.imp_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The cancel_history entries our copy of a payment holds.
async fn stored_entries(app: &TestApp, payment_id: i64) -> i64 {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from payment_cancellations where payment_id = $1"#,
        payment_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_sync_writes_what_is_new_and_still_takes_any_history_whole(pool: PgPool) {
    use portone_refund::server::refund::observe::record_by_id;
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 100_000, "card", "kcp").await;
    for _ in 0..5 {
        console_cancel(&app, &p, 1000).await;
    }
    let payment_id = payment_id_of(&app, &p).await;
    let stored = || stored_entries(&app, payment_id);
    assert_eq!(stored().await, 5);
    // an entry we hold goes missing behind the sync's back: a history that continues ours is
    // written from where ours ends, so the old entry is not looked at again …
    sqlx::query!(
        "delete from payment_cancellations where payment_id = $1 and entry_key = (select min(entry_key) from payment_cancellations where payment_id = $1)",
        payment_id
    )
    .execute(&app.pool)
    .await
    .unwrap();
    console_cancel(&app, &p, 1000).await;
    assert_eq!(stored().await, 5, "only the new entry was written");
    // … while a history in another order is taken whole (idempotently)
    let mut reordered = app.sim_payment(&p.imp_uid).await;
    reordered.cancel_history.as_mut().unwrap().reverse();
    assert_eq!(
        record_by_id(&app.pool, payment_id, &from_v1(reordered.clone())).await.unwrap().added.len(),
        1
    );
    assert_eq!(stored().await, 6);
    // and a `null` history leaves what we hold alone
    let mut bare = app.sim_payment(&p.imp_uid).await;
    bare.cancel_history = None;
    assert_eq!(
        record_by_id(&app.pool, payment_id, &from_v1(bare.clone())).await.unwrap().added.len(),
        0
    );
    console_cancel(&app, &p, 1000).await;
    assert_eq!(stored().await, 7, "the next sync continues from the mark");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 7000);
}

#[sqlx::test]
async fn a_sync_from_the_mark_a_refund_looked_at_skips_what_later_syncs_wrote_and_keeps_their_mark(
    pool: PgPool,
) {
    use portone_refund::server::payments::{history_mark, sync, Held};
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 100_000, "card", "kcp").await;
    for _ in 0..3 {
        console_cancel(&app, &p, 1000).await;
    }
    let payment_id = payment_id_of(&app, &p).await;
    let mark = || async {
        history_mark(&mut app.pool.acquire().await.unwrap(), payment_id).await.unwrap()
    };
    let stored = || stored_entries(&app, payment_id);
    // a refund request looks; two cancels are synced by their webhooks before its tx2
    let looked = mark().await;
    assert_eq!(looked.len, 3);
    console_cancel(&app, &p, 1000).await;
    console_cancel(&app, &p, 1000).await;
    let now = mark().await;
    assert_eq!((now.len, stored().await), (5, 5));
    let sync_as_looked = |payment: portone_refund::server::gateway::Payment| {
        let (pool, looked) = (app.pool.clone(), looked.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            let synced =
                sync(&mut tx, payment_id, &payment, true, Held::AsLooked(&looked)).await.unwrap();
            tx.commit().await.unwrap();
            synced.added.len()
        }
    };
    // PortOne's answer holds all five: the two written since are written again and skipped
    assert_eq!(sync_as_looked(from_v1(app.sim_payment(&p.imp_uid).await)).await, 0);
    assert_eq!((mark().await, stored().await), (now.clone(), 5));
    // an answer from before the fifth cancel never moves the mark back
    let mut older = app.sim_payment(&p.imp_uid).await;
    older.cancel_history.as_mut().unwrap().truncate(4);
    assert_eq!(sync_as_looked(from_v1(older)).await, 0);
    assert_eq!(mark().await, now, "the mark stays where the later syncs put it");
    // and the next cancel is written from there
    console_cancel(&app, &p, 1000).await;
    assert_eq!((mark().await.len, stored().await), (6, 6));
}

/// The usual success's one statement (`record_own_success`): over an entry stored before it,
/// it writes nothing (the long way reads that entry's link); for a refund someone else
/// finished, it stores PortOne's payment and the entry, unlinked, and takes no tax part off.
#[sqlx::test]
async fn the_one_statement_success_leaves_a_stored_entry_and_a_finished_refund_alone(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 100_000, "card", "kcp").await;
    let o = refund(&app, &p, 3_000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    let payment_id = payment_id_of(&app, &p).await;
    let entry_key = sqlx::query_scalar!(
        "select entry_key from payment_cancellations where refund_id = $1",
        o.refund_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let written = || async {
        sqlx::query!(
            r#"select p.cancel_amount, p.balance_cancel_amount, p.history_len, p.synced_at,
                      (select count(*) from refund_events e where e.refund_id = $2) as "events!",
                      (select count(*) from payment_cancellations c where c.payment_id = p.id) as "entries!"
               from payments p where p.id = $1"#,
            payment_id,
            o.refund_id
        )
        .fetch_one(&app.pool)
        .await
        .map(|r| (r.cancel_amount, r.balance_cancel_amount, r.history_len, r.synced_at, r.events, r.entries))
        .unwrap()
    };
    let before = written().await;
    let record = |key: String, cancel_amount: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!(
                r#"select outcome as "outcome!" from record_own_success(
                       $1, 'cancelled', $2, now(), null, 2, $3,
                       $3, null, 'tid', 3000, now(), $4, null,
                       $5, 'system', '{}', 97000, 3000, 0, 0, gen_random_uuid(), 'refund.succeeded', 'wh')"#,
                payment_id,
                cancel_amount,
                key,
                decide::reason_for_portone("단순 변심", o.refund_id),
                o.refund_id
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(record(entry_key, 3_000).await, "stored_before");
    assert_eq!(written().await, before, "nothing written over a stored entry");

    assert_eq!(record("late".into(), 6_000).await, "not_pending");
    let (cancel_amount, balance, history_len, _, events, entries) = written().await;
    assert_eq!(cancel_amount, 6_000, "PortOne's payment stored");
    assert_eq!(history_len, 2);
    assert_eq!(
        (balance, events, entries),
        (before.1, before.4, before.5 + 1),
        "no tax part, no event"
    );
    assert_eq!(linked_to(&app, &o.refund_id).await, 1, "the late entry stays unlinked");
}
