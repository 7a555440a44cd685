//! The shop's side of a torture run: a receiver of the app's events that answers some of them
//! 500 (so retries happen under the chaos too), verifies each signature, and at the end checks
//! that every refund's final status reached it as that refund's last event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

#[derive(Default)]
struct Seen {
    /// events in the order they arrived, each once (by id)
    events: Vec<Value>,
    ids: std::collections::HashSet<String>,
    repeats: u64,
    forged: u64,
    refused: u64,
    /// the events answered 500 once: never refused again (a refusal counted over every
    /// arrival picked the same event each round when a group of deliveries retried in
    /// step, until its retries ran out)
    refused_ids: std::collections::HashSet<String>,
}

#[derive(Clone)]
pub struct Receiver {
    seen: Arc<Mutex<Seen>>,
    secret: Arc<Mutex<String>>,
    /// one request in this many is answered 500
    fail_one_in: u64,
}

impl Receiver {
    /// Listens on a random loopback port; returns the endpoint URL.
    pub async fn start(fail_one_in: u64) -> Result<(String, Receiver), String> {
        let receiver = Receiver { seen: Arc::default(), secret: Arc::default(), fail_one_in };
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let url =
            format!("http://{}/hooks/refunds", listener.local_addr().map_err(|e| e.to_string())?);
        let app = axum::Router::new()
            .route("/hooks/refunds", axum::routing::post(take))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((url, receiver))
    }

    pub fn set_secret(&self, secret: String) {
        *self.secret.lock().expect("secret") = secret;
    }
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = r.secret.lock().expect("secret").clone();
    let verified = standardwebhooks::Webhook::new(&secret)
        .map(|w| w.verify(&body, &headers).is_ok())
        .unwrap_or(false);
    let mut seen = r.seen.lock().expect("seen");
    if !verified {
        seen.forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["id"].as_str().unwrap_or_default().to_string();
    // an answer we refuse is not taken: the event must come again
    let arrived = seen.ids.len() as u64 + seen.repeats + seen.refused;
    if r.fail_one_in > 0
        && arrived % r.fail_one_in == r.fail_one_in - 1
        && !seen.ids.contains(&id)
        && seen.refused_ids.insert(id.clone())
    {
        seen.refused += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if seen.ids.insert(id) {
        seen.events.push(event);
    } else {
        seen.repeats += 1;
    }
    StatusCode::OK
}

/// What the receiver got, against our ledger.
#[derive(Debug, Default)]
pub struct Verdict {
    pub events: u64,
    pub repeats: u64,
    pub refused: u64,
    pub violations: Vec<String>,
}

/// Every refund's last event carries its final status; no event names a refund we do not
/// hold; no request was forged.
pub async fn check(receiver: &Receiver, pool: &PgPool) -> Result<Verdict, sqlx::Error> {
    let (events, repeats, refused, forged) = {
        let seen = receiver.seen.lock().expect("seen");
        (seen.events.clone(), seen.repeats, seen.refused, seen.forged)
    };
    let mut verdict =
        Verdict { events: events.len() as u64, repeats, refused, ..Verdict::default() };
    if forged > 0 {
        verdict.violations.push(format!("{forged} event requests failed their signature"));
    }
    let mut last: HashMap<String, String> = HashMap::new();
    for e in &events {
        if let Some(id) = e["data"]["refund"]["id"].as_str() {
            let status = e["data"]["refund"]["status"].as_str().unwrap_or_default();
            last.insert(id.to_string(), status.to_string());
        }
    }
    let refunds =
        sqlx::query!("select id::text as \"id!\", status from refunds").fetch_all(pool).await?;
    let ours: HashMap<String, String> = refunds.into_iter().map(|r| (r.id, r.status)).collect();
    for (id, status) in &last {
        match ours.get(id) {
            None => {
                verdict.violations.push(format!("an event names refund {id}, which does not exist"))
            }
            Some(final_status) if final_status != status => verdict
                .violations
                .push(format!("refund {id} is {final_status}, its last event said {status}")),
            Some(_) => {}
        }
    }
    for (id, status) in &ours {
        // a refund whose only state was pending-then-final has its final event; one still
        // reserved-only never reached the shop, and need not
        if !last.contains_key(id) && status != "pending" {
            verdict.violations.push(format!("refund {id} ended {status} and the shop never heard"));
        }
    }
    Ok(verdict)
}
