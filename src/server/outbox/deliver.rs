//! The delivery worker, on every instance: takes due deliveries (`FOR UPDATE SKIP LOCKED`,
//! leasing each for one attempt so no other instance sends it meanwhile), posts each event's
//! stored body signed per Standard Webhooks (`webhook-id` the event's id on every attempt),
//! and records the answer: 2xx delivered; anything else, or no answer in time, retried after
//! the schedule's next step, and failed (alerted) once the schedule is spent. A later event of
//! one refund waits until the earlier one to the same endpoint is no longer pending.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use moka::sync::Cache;
use sqlx::PgPool;

use super::endpoints::is_private;

/// The worker's tunables (`SHOP_WEBHOOK_*`).
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// After the first attempt fails, the waits before each retry; spent, the delivery fails.
    pub retry_schedule: Vec<Duration>,
    /// One attempt in all (connect, send, answer).
    pub timeout: Duration,
    /// Deliveries in flight at once on an instance (and what one pass takes at most). A shop's
    /// endpoint that answers in tens of milliseconds needs dozens in flight to keep pace with
    /// a wave of refunds (docs/measurements.md).
    pub in_flight: usize,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
    /// `DEV_MODE`: endpoints on this machine or a private network are allowed.
    pub development: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            retry_schedule: [60, 240, 960, 3840, 15360].map(Duration::from_secs).to_vec(),
            timeout: Duration::from_secs(10),
            in_flight: 100,
            poll: Duration::from_secs(1),
            development: false,
        }
    }
}

/// Parses `SHOP_WEBHOOK_RETRY_SCHEDULE_SECS` (`60,240,960`).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    s.split(',')
        .map(|step| {
            step.trim()
                .parse::<f64>()
                .ok()
                .filter(|secs| secs.is_finite() && *secs >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("SHOP_WEBHOOK_RETRY_SCHEDULE_SECS: {step:?} is not seconds"))
        })
        .collect()
}

/// One delivery as the worker sends it.
struct Due {
    id: i64,
    attempts: i32,
    event_id: uuid::Uuid,
    body: String,
    url: String,
    secret: String,
    previous_secret: Option<String>,
}

/// Takes up to `limit` due deliveries, leasing each past one attempt's timeout.
async fn claim(
    pool: &PgPool,
    settings: &DeliverySettings,
    limit: usize,
) -> Result<Vec<Due>, sqlx::Error> {
    let lease = settings.timeout.as_secs_f64() + 30.0;
    sqlx::query_as!(
        Due,
        r#"with due as (
               select d.id from webhook_deliveries d
               join webhook_endpoints e on e.id = d.endpoint_id and e.disabled_at is null
               where d.status = 'pending' and d.next_attempt_at <= now()
                 and not exists (
                     select 1 from webhook_deliveries earlier
                     where earlier.endpoint_id = d.endpoint_id and earlier.refund_id = d.refund_id
                       and earlier.status = 'pending' and earlier.event_seq < d.event_seq)
               order by d.event_seq
               limit $1
               for update of d skip locked)
           update webhook_deliveries d set attempts = d.attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2)
           from due, shop_events ev, webhook_endpoints e
           where d.id = due.id and ev.id = d.event_id and e.id = d.endpoint_id
           returning d.id, d.attempts, ev.id as event_id, ev.body::text as "body!", e.url, e.secret,
                     case when e.previous_until > now() then e.previous_secret end as previous_secret"#,
        limit as i64,
        lease
    )
    .fetch_all(pool)
    .await
}

/// `webhook-signature`: `v1,<base64 HMAC-SHA256>` under the secret, and under the previous
/// one too while a rotation's overlap lasts.
fn signature(due: &Due, timestamp: i64) -> Result<String, String> {
    let id = super::message_id(due.event_id);
    let mut signatures = Vec::new();
    for secret in std::iter::once(&due.secret).chain(due.previous_secret.as_ref()) {
        let signer = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
        signatures
            .push(signer.sign(&id, timestamp, due.body.as_bytes()).map_err(|e| e.to_string())?);
    }
    Ok(signatures.join(" "))
}

/// The addresses an endpoint's host resolves to, each a public one outside development
/// (checked at every delivery, so a name re-pointed at a private address is refused too).
async fn resolve(url: &reqwest::Url, development: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().ok_or("no port")?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !development && addrs.iter().any(|a| is_private(a.ip())) {
        return Err(format!("{host} resolves to a private address"));
    }
    Ok(addrs)
}

/// What one attempt came to.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    duration: Duration,
}

/// Clients by an endpoint's host and the addresses just checked for it, each pinned to exactly
/// those addresses. A delivery whose host resolves as before reuses the client and its open
/// connection (building a client and connecting, with TLS, for every event kept deliveries far
/// behind a wave of refunds: docs/measurements.md); a host that resolves elsewhere gets a
/// client of its own, so nothing is ever sent to an address that was not checked.
#[derive(Clone)]
pub struct Senders(Cache<(String, Vec<SocketAddr>), reqwest::Client>);

impl Default for Senders {
    fn default() -> Self {
        Senders(Cache::builder().max_capacity(256).time_to_idle(Duration::from_secs(300)).build())
    }
}

impl Senders {
    /// The client for `host` at `addrs` (in any order: DNS may rotate them).
    fn client(
        &self,
        host: &str,
        mut addrs: Vec<SocketAddr>,
        settings: &DeliverySettings,
    ) -> Result<reqwest::Client, String> {
        addrs.sort_unstable();
        addrs.dedup();
        let build = || {
            reqwest::Client::builder()
                .timeout(settings.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .resolve_to_addrs(host, &addrs)
                .build()
        };
        self.0.try_get_with((host.to_owned(), addrs.clone()), build).map_err(|e| e.to_string())
    }
}

async fn attempt(due: &Due, settings: &DeliverySettings, senders: &Senders) -> Attempt {
    let started = Instant::now();
    let sent = async {
        let url = reqwest::Url::parse(&due.url).map_err(|e| e.to_string())?;
        let addrs = resolve(&url, settings.development).await?;
        // connect only to the addresses just checked
        let client = senders.client(url.host_str().unwrap_or_default(), addrs, settings)?;
        let timestamp = Utc::now().timestamp();
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "portone-refund-webhooks/1")
            .header("webhook-id", super::message_id(due.event_id))
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(due, timestamp)?)
            .body(due.body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<u16, String>(response.status().as_u16())
    };
    match tokio::time::timeout(settings.timeout, sent).await {
        Ok(Ok(status)) => {
            Attempt { status: Some(status), error: None, duration: started.elapsed() }
        }
        Ok(Err(error)) => Attempt { status: None, error: Some(error), duration: started.elapsed() },
        Err(_) => Attempt {
            status: None,
            error: Some("no answer in time".into()),
            duration: started.elapsed(),
        },
    }
}

/// Records an attempt: delivered, due again after the schedule's next wait, or failed.
async fn finish(
    pool: &PgPool,
    due: &Due,
    a: &Attempt,
    settings: &DeliverySettings,
) -> Result<&'static str, sqlx::Error> {
    let delivered = a.status.is_some_and(|s| (200..300).contains(&s));
    let retry_in = settings.retry_schedule.get(due.attempts as usize - 1);
    let result = match (delivered, retry_in) {
        (true, _) => "delivered",
        (false, Some(_)) => "retry",
        (false, None) => "failed",
    };
    sqlx::query!(
        r#"update webhook_deliveries set
               status = case $3 when 'delivered' then 'delivered' when 'failed' then 'failed' else 'pending' end,
               delivered_at = case when $3 = 'delivered' then now() end,
               next_attempt_at = case when $3 = 'retry' then now() + make_interval(secs => $4) else next_attempt_at end,
               last_status = $5, last_error = $6, last_duration_ms = $7
           where id = $1 and attempts = $2 and status = 'pending'"#,
        due.id,
        due.attempts,
        result,
        retry_in.map(Duration::as_secs_f64).unwrap_or(0.0),
        a.status.map(i32::from),
        a.error.as_deref().map(|e| &e[..e.len().min(300)]),
        a.duration.as_millis().min(i32::MAX as u128) as i32
    )
    .execute(pool)
    .await?;
    if result == "failed" {
        tracing::error!(delivery_id = due.id, url = %due.url, "an event could not be delivered to the shop; given up");
    }
    metrics::counter!("shop_webhook_deliveries_total", "result" => result).increment(1);
    Ok(result)
}

/// One delivery attempted and its answer recorded.
async fn deliver(
    pool: &PgPool,
    due: &Due,
    settings: &DeliverySettings,
    senders: &Senders,
) -> Result<&'static str, sqlx::Error> {
    let a = attempt(due, settings, senders).await;
    if let Some(error) = &a.error {
        tracing::warn!(delivery_id = due.id, attempt = due.attempts, %error, "event delivery failed");
    }
    finish(pool, due, &a, settings).await
}

/// One pass: every due delivery (up to `in_flight`) attempted at once. Returns how many.
pub async fn deliver_once(
    pool: &PgPool,
    settings: &DeliverySettings,
    senders: &Senders,
) -> Result<usize, sqlx::Error> {
    let due = claim(pool, settings, settings.in_flight).await?;
    let attempts = due.iter().map(|d| deliver(pool, d, settings, senders));
    for result in futures::future::join_all(attempts).await {
        result?;
    }
    Ok(due.len())
}

/// Keeps up to `in_flight` deliveries going until `stop` turns true, taking more once half
/// the slots are free (a claim per freed slot would cost a statement per event): one slow
/// answer holds up only its own event (passes that waited for their slowest attempt held
/// every later event behind it). With nothing in flight and nothing due it looks again every
/// `poll`; told to stop, it lets the attempts under way end.
pub fn spawn(
    pool: PgPool,
    settings: DeliverySettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let senders = Senders::default();
        // shared by the deliveries in flight, not copied into each
        let settings = std::sync::Arc::new(settings);
        let mut in_flight = tokio::task::JoinSet::new();
        let refill = settings.in_flight.div_ceil(2);
        while !*stop.borrow() {
            let room = settings.in_flight.saturating_sub(in_flight.len());
            let mut more_due = false;
            if room >= refill || in_flight.is_empty() {
                let due = claim(&pool, &settings, room).await.unwrap_or_else(|error| {
                    tracing::error!(%error, "taking due events failed");
                    Vec::new()
                });
                more_due = due.len() == room;
                for due in due {
                    let (pool, settings, senders) =
                        (pool.clone(), settings.clone(), senders.clone());
                    in_flight.spawn(async move { deliver(&pool, &due, &settings, &senders).await });
                }
            }
            if in_flight.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            tokio::select! {
                Some(done) = in_flight.join_next() => recorded(done),
                _ = tokio::time::sleep(settings.poll), if !more_due => {}
                _ = stop.changed() => {}
            }
            while let Some(done) = in_flight.try_join_next() {
                recorded(done);
            }
        }
        while let Some(done) = in_flight.join_next().await {
            recorded(done);
        }
    })
}

/// Says when an attempt's answer could not be recorded (it is sent again once its lease ends).
fn recorded(done: Result<Result<&'static str, sqlx::Error>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, "recording an event delivery failed"),
        Err(error) => tracing::error!(%error, "an event delivery stopped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_reads_as_seconds() {
        assert_eq!(
            parse_schedule("60, 240,960").unwrap(),
            [60, 240, 960].map(Duration::from_secs).to_vec()
        );
        assert_eq!(parse_schedule("0.5").unwrap(), vec![Duration::from_millis(500)]);
        assert!(parse_schedule("60,soon").is_err());
        assert!(parse_schedule("-1").is_err());
    }
}
