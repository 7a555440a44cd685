//! The shop's event endpoints: added (by an admin on 연동 or by the shop's API key), listed,
//! disabled and enabled, deleted, and their secrets rotated. An endpoint's URL is where this
//! server will send requests on its own, so it must not reach into a private network: https
//! only, and no loopback, private or link-local address, outside `DEV_MODE` (checked here and
//! again, after resolving, at every delivery: `deliver.rs`).

use std::net::IpAddr;

use base64::Engine;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::ShopEvent;
use crate::model::shop::{DeliveryView, EndpointView};

/// How long a rotated-out secret still signs deliveries (the shop updates its verifier).
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A new secret: `whsec_` and 32 random bytes in base64 (Standard Webhooks' form).
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Whether an address is one a request from us must never reach (outside `DEV_MODE`).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT: someone's private network
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks an endpoint URL; `Err` is the Korean sentence to show.
pub fn check_url(url: &str, development: bool) -> Result<reqwest::Url, String> {
    let refused = |why: &str| Err(format!("받을 수 없는 주소입니다: {why}"));
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else {
        return refused("URL 형식이 아닙니다.");
    };
    if url.len() > 2000 || !parsed.username().is_empty() || parsed.password().is_some() {
        return refused("너무 길거나 계정 정보가 들어 있습니다.");
    }
    match (parsed.scheme(), development) {
        ("https", _) | ("http", true) => {}
        _ => return refused("https 주소만 등록할 수 있습니다."),
    }
    let Some(host) = parsed.host() else { return refused("호스트가 없습니다.") };
    if !development {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost"
                    || [".localhost", ".local", ".internal", ".lan"]
                        .iter()
                        .any(|suffix| name.ends_with(suffix))
            }
        };
        if private {
            return refused("내부망·루프백 주소로는 보낼 수 없습니다.");
        }
    }
    Ok(parsed)
}

/// The event types an endpoint asks for, each one we send; `None` for all.
pub fn check_events(events: Option<&[String]>) -> Result<Option<Vec<String>>, String> {
    let Some(events) = events.filter(|e| !e.is_empty()) else { return Ok(None) };
    let mut kinds = Vec::new();
    for e in events {
        let Some(kind) = ShopEvent::parse(e.trim()) else {
            return Err(format!("알 수 없는 이벤트입니다: {}", e.trim()));
        };
        if !kinds.contains(&kind.as_str().to_string()) {
            kinds.push(kind.as_str().to_string());
        }
    }
    Ok(Some(kinds))
}

/// Adds an endpoint; returns its id and its secret (shown once).
pub async fn create(
    pool: &PgPool,
    url: &str,
    events: Option<&[String]>,
    development: bool,
    actor: &str,
) -> Result<Result<(i64, String), String>, sqlx::Error> {
    let url = match check_url(url, development) {
        Ok(url) => url,
        Err(why) => return Ok(Err(why)),
    };
    let events = match check_events(events) {
        Ok(events) => events,
        Err(why) => return Ok(Err(why)),
    };
    let secret = new_secret();
    let id = sqlx::query_scalar!(
        "insert into webhook_endpoints (url, events, secret, created_by) values ($1, $2, $3, $4) returning id",
        url.as_str(),
        events.as_deref(),
        secret,
        actor
    )
    .fetch_one(pool)
    .await?;
    tracing::info!(endpoint_id = id, %actor, "webhook endpoint added");
    Ok(Ok((id, secret)))
}

/// Every endpoint (never its secret) with its `recent` newest deliveries.
pub async fn list(pool: &PgPool, recent: i64) -> Result<Vec<EndpointView>, sqlx::Error> {
    let mut endpoints: Vec<EndpointView> = sqlx::query!(
        r#"select id, url, events, disabled_at as "disabled_at: DateTime<Utc>", created_at as "created_at: DateTime<Utc>"
           from webhook_endpoints order by id"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|e| EndpointView {
        id: e.id,
        url: e.url,
        events: e.events,
        disabled_at: e.disabled_at,
        created_at: e.created_at,
        deliveries: Vec::new(),
    })
    .collect();
    let deliveries = sqlx::query!(
        r#"select e.id as endpoint_id, d.id as "id!", ev.kind as "kind!",
                  coalesce('R-' || upper(left(ev.refund_id::text, 8)), p.merchant_uid) as "subject!",
                  d.status as "status!", d.attempts as "attempts!", d.last_status, d.last_duration_ms,
                  d.created_at as "created_at!: DateTime<Utc>"
           from webhook_endpoints e
           cross join lateral (select * from webhook_deliveries d where d.endpoint_id = e.id
                               order by d.id desc limit $1) d
           join shop_events ev on ev.id = d.event_id
           join payments p on p.id = ev.payment_id
           order by e.id, d.id desc"#,
        recent
    )
    .fetch_all(pool)
    .await?;
    for d in deliveries {
        if let Some(e) = endpoints.iter_mut().find(|e| e.id == d.endpoint_id) {
            e.deliveries.push(DeliveryView {
                id: d.id,
                event_type: d.kind,
                subject: d.subject,
                status: d.status,
                attempts: d.attempts,
                last_status: d.last_status,
                last_duration_ms: d.last_duration_ms,
                created_at: d.created_at,
            });
        }
    }
    Ok(endpoints)
}

/// 재전송: one delivery sent again from the start of the schedule, under the same
/// `webhook-id`; false when there is none or it is being attempted right now.
pub async fn resend(pool: &PgPool, delivery_id: i64, actor: &str) -> Result<bool, sqlx::Error> {
    let resent = sqlx::query!(
        r#"update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(),
                  delivered_at = null
           where id = $1 and (status <> 'pending' or next_attempt_at <= now())"#,
        delivery_id
    )
    .execute(pool)
    .await?;
    tracing::info!(delivery_id, %actor, "event delivery resent");
    Ok(resent.rows_affected() == 1)
}

/// Deletes an endpoint and its deliveries; false when there was none.
pub async fn delete(pool: &PgPool, id: i64, actor: &str) -> Result<bool, sqlx::Error> {
    let deleted =
        sqlx::query!("delete from webhook_endpoints where id = $1", id).execute(pool).await?;
    tracing::info!(endpoint_id = id, %actor, "webhook endpoint deleted");
    Ok(deleted.rows_affected() == 1)
}

/// Disables (nothing more is written or sent to it) or enables an endpoint.
pub async fn set_disabled(
    pool: &PgPool,
    id: i64,
    disabled: bool,
    actor: &str,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query!(
        "update webhook_endpoints set disabled_at = case when $2 then coalesce(disabled_at, now()) end where id = $1",
        id,
        disabled
    )
    .execute(pool)
    .await?;
    tracing::info!(endpoint_id = id, disabled, %actor, "webhook endpoint changed");
    Ok(changed.rows_affected() == 1)
}

/// A new secret for an endpoint (shown once); the old one still signs for 24 hours.
pub async fn rotate(pool: &PgPool, id: i64, actor: &str) -> Result<Option<String>, sqlx::Error> {
    let secret = new_secret();
    let rotated = sqlx::query!(
        r#"update webhook_endpoints set previous_secret = secret, secret = $2,
                  previous_until = now() + make_interval(hours => $3)
           where id = $1"#,
        id,
        secret,
        ROTATION_OVERLAP_HOURS as i32
    )
    .execute(pool)
    .await?;
    tracing::info!(endpoint_id = id, %actor, "webhook endpoint secret rotated");
    Ok((rotated.rows_affected() == 1).then_some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_urls_are_taken_outside_development() {
        for bad in [
            "http://shop.example/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://100.64.1.1/hook",
            "https://localhost/hook",
            "https://db.internal/hook",
            "https://user:pw@shop.example/hook",
            "ftp://shop.example/hook",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("https://shop.example/hooks/refunds", false).is_ok());
        assert!(check_url("https://203.0.114.10/hook", false).is_ok());
        // development: the shop's receiver on this machine
        assert!(check_url("http://127.0.0.1:4000/hook", true).is_ok());
    }

    #[test]
    fn event_filters_name_only_events_we_send() {
        assert_eq!(check_events(None), Ok(None));
        assert_eq!(check_events(Some(&[])), Ok(None));
        let some = ["refund.succeeded".to_string(), "refund.failed".into(), "refund.failed".into()];
        assert_eq!(
            check_events(Some(&some)),
            Ok(Some(vec!["refund.succeeded".into(), "refund.failed".into()]))
        );
        assert!(check_events(Some(&["refund.exploded".to_string()])).is_err());
    }
}
