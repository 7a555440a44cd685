//! What one refund costs the database, counted (not timed): the statements every request it
//! causes runs — the customer's `POST /payments/cancel` and PortOne's webhook for the cancel
//! that comes back — as sqlx reports them, and the commits among them that wait for the disk.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use serde_json::json;
use sqlx::PgPool;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Every statement run inside an HTTP request's span (`telemetry::request_span`), in order,
/// with the request it belongs to; background work (the reconciler, the sweep, the outbox
/// worker, the health probe) and the test's own queries run outside one and are not counted.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<(u64, String)>>>);

struct Sql(String);

impl Visit for Sql {
    fn record_str(&mut self, field: &Field, value: &str) {
        // sqlx gives a short `summary` and, when it differs, the whole text as `db.statement`
        let whole = field.name() == "db.statement" && !value.trim().is_empty();
        let short = field.name() == "summary" && self.0.is_empty();
        if whole || short {
            self.0 = value.trim().to_string();
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let Some(request) =
            ctx.event_scope(event).and_then(|mut s| s.find(|span| span.name() == "request"))
        else {
            return;
        };
        let mut sql = Sql(String::new());
        event.record(&mut sql);
        self.0.lock().unwrap().push((request.id().into_u64(), sql.0));
    }
}

impl Statements {
    fn take(&self) -> Vec<(u64, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The cost of the statements of one refund, by the rule Postgres commits by: a statement
/// outside a transaction is its own transaction; a transaction is `BEGIN` (which sqlx sends
/// ahead of the first statement, in the same round trip) to `COMMIT`. A commit waits for the
/// disk when its transaction wrote and did not turn `synchronous_commit` off.
#[derive(Debug, Default, PartialEq)]
struct Cost {
    statements: usize,
    disk_waits: usize,
}

/// The functions of ours that write (migrations/20261201000006_reserve_in_one_round_trip.sql,
/// migrations/20261202000006_own_success_in_one_statement.sql).
const WRITING_FUNCTIONS: [&str; 5] = [
    "reserve_refund(",
    "finish_refund_succeeded(",
    "record_refund_event(",
    "count_refund_request(",
    "record_own_success(",
];

fn writes(sql: &str) -> bool {
    let s = sql.to_lowercase();
    ["insert ", "update ", "delete "].iter().chain(&WRITING_FUNCTIONS).any(|w| s.contains(w))
}

/// Turns `synchronous_commit` off for its transaction (`count_refund_request` and
/// `record_own_success` do inside).
fn quick(sql: &str) -> bool {
    sql.contains("set_config('synchronous_commit', 'off', true)")
        || sql.contains("count_refund_request(")
        || sql.contains("record_own_success(")
}

/// One request's statements, in order. sqlx sends no statement for `BEGIN`, so a transaction
/// is known by its end (`COMMIT`) and, for a quick one, by its first statement (the one that
/// turns `synchronous_commit` off): what runs before a quick transaction's first statement ran
/// outside any transaction.
fn cost(statements: &[String]) -> Cost {
    let mut cost = Cost { statements: statements.len(), disk_waits: 0 };
    let commits = statements.iter().filter(|s| s.eq_ignore_ascii_case("commit")).count();
    // the BEGIN sent ahead of each transaction's first statement
    cost.statements += commits;
    let alone = |open: &[&String]| open.iter().filter(|s| writes(s) && !quick(s)).count();
    let mut open: Vec<&String> = Vec::new();
    for s in statements {
        if s.eq_ignore_ascii_case("commit") {
            let wrote = open.iter().any(|s| writes(s));
            if wrote && !open.iter().any(|s| quick(s)) {
                cost.disk_waits += 1;
            }
            open.clear();
        } else {
            if quick(s) && open.iter().any(|s| writes(s) && !quick(s)) {
                // a quick transaction starts here: what came before ran on its own
                cost.disk_waits += alone(&open);
                open.clear();
            }
            open.push(s);
        }
    }
    // what no COMMIT closed ran outside any transaction: each its own commit
    cost.disk_waits += alone(&open);
    cost
}

#[test]
fn the_cost_rule_counts_transactions_as_postgres_commits_them() {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let c = cost(&s(&["select 1", "insert into t values (1)", "COMMIT"]));
    assert_eq!(c, Cost { statements: 4, disk_waits: 1 });
    let quick_tx = "select set_config('synchronous_commit', 'off', true)";
    let c = cost(&s(&[quick_tx, "update t set a = 1", "COMMIT", "select 2"]));
    assert_eq!(c, Cost { statements: 5, disk_waits: 0 });
    let c = cost(&s(&["select * from reserve_refund($1)", "select 1"]));
    assert_eq!(c, Cost { statements: 2, disk_waits: 1 });
    let c =
        cost(&s(&["select * from reserve_refund($1)", quick_tx, "update t set a = 1", "COMMIT"]));
    assert_eq!(c, Cost { statements: 5, disk_waits: 1 });
}

#[sqlx::test]
async fn one_refund_runs_at_most_five_statements_and_waits_for_the_disk_at_most_twice(
    pool: PgPool,
) {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry().with(statements.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 100_000, "card", "kcp").await;
    let minsu = app.signed_in(MINSU).await;
    // two amounts: the same request again within a minute would be a keyless retry
    let (minsu, app, p) = (&minsu, &app, &p);
    let refund = |amount: i64| async move {
        let res = minsu
            .post(format!("{}/payments/cancel", app.base_url))
            .json(&json!({"merchant_uid": p.merchant_uid, "cancel_request_amount": amount, "reason": "단순 변심"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        // PortOne's webhook for the cancel comes back in
        tokio::time::sleep(Duration::from_millis(400)).await;
    };
    // the first refund prepares statements and fills the caches
    refund(1000).await;
    statements.take();
    refund(2000).await;
    let taken = statements.take();
    let mut requests: Vec<u64> = Vec::new();
    for (r, _) in &taken {
        if !requests.contains(r) {
            requests.push(*r);
        }
    }
    assert_eq!(requests.len(), 2, "the refund and its webhook: {taken:#?}");
    let mut total = Cost::default();
    for request in requests {
        let mine: Vec<String> =
            taken.iter().filter(|(r, _)| *r == request).map(|(_, s)| s.clone()).collect();
        let c = cost(&mine);
        total.statements += c.statements;
        total.disk_waits += c.disk_waits;
    }
    let listing: Vec<&str> = taken.iter().map(|(_, s)| s.as_str()).collect();
    println!("one refund and its webhook: {total:?}");
    assert!(total.statements <= 5, "{total:?}: {listing:#?}");
    assert!(total.disk_waits <= 2, "{total:?}: {listing:#?}");
}
