//! `POST /portone/webhook`: PortOne's V1 notification. The body is only a hint of which
//! payment changed; everything stored is re-derived from PortOne's own answer, so a forged
//! or repeated webhook changes nothing wrong. Hints for one payment share PortOne reads
//! (`coalesce.rs`), so a flood of them is no flood at PortOne; with `PORTONE_WEBHOOK_ALLOW`
//! only PortOne's own addresses are heard at all.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use sqlx::PgPool;
use tracing::instrument;

use crate::model::ApiVersion;
use crate::server::coalesce::Turned;
use crate::server::error::ServerError;
use crate::server::gateway::{from_v1, from_v2, Gateway, GatewayError, PaymentRef, PaymentStatus};
use crate::server::payments::import_payment;
use crate::server::refund::observe::{refresh, refresh_balance};
use crate::server::AppState;
use portone_v1::WebhookNotice;

#[derive(Debug, PartialEq)]
pub enum WebhookEffect {
    /// A payment we did not know, now stored (owner found by buyer e-mail, if any).
    Imported { owner_found: bool },
    /// A known payment, synced; how many cancel_history entries were new.
    Synced { new_cancellations: u64 },
    /// PortOne does not know the payment (or it is not paid): nothing to do.
    Ignored,
    /// A read of the payment that began after this hint arrived already answered it.
    Covered,
    /// The hint names a cancellation we already hold as applied (our own refund's, recorded by
    /// its tx2): no PortOne read, nothing written.
    Known,
}

/// The least time between two PortOne reads of one payment on behalf of webhooks.
pub const MIN_READ_GAP: Duration = Duration::from_millis(250);

pub async fn handle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let settings = &state.settings;
    if let Err(from) =
        sender_allowed(&settings.webhook_allow, peer, &headers, &settings.trusted_proxies)
    {
        tracing::warn!(%from, "webhook from an address PORTONE_WEBHOOK_ALLOW does not list");
        metrics::counter!("webhooks_total", "result" => "refused").increment(1);
        return StatusCode::FORBIDDEN;
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let notice: Result<WebhookNotice, String> = if is_form {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    };
    let Ok(notice) = notice.map_err(|e| tracing::warn!(error = %e, "unreadable webhook")) else {
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    };
    // Only PortOne's shape of id reaches a query or a log line.
    if !crate::model::valid_imp_uid(&notice.imp_uid) {
        tracing::warn!("webhook with a malformed imp_uid");
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    }
    let rules = ImportRules::of(&state.settings);
    let hint = Hint {
        version: ApiVersion::V1,
        id: &notice.imp_uid,
        cancellation_id: notice.cancellation_id.as_deref(),
    };
    answer(&state, hint, &rules).await
}

/// Which payment a webhook says may have changed: V1 names its imp_uid, V2 its paymentId.
#[derive(Clone, Copy, Debug)]
pub struct Hint<'a> {
    pub version: ApiVersion,
    pub id: &'a str,
    /// the cancellation it is about, when it names one
    pub cancellation_id: Option<&'a str>,
}

/// Reads the hinted payment (sharing reads with other hints of it) and answers PortOne.
pub async fn answer(state: &AppState, hint: Hint<'_>, rules: &ImportRules) -> StatusCode {
    let turn = state
        .webhook_reads
        .read(&format!("{}:{}", hint.version.as_str(), hint.id), || {
            process_hint(&state.pool, &state.portone, hint, rules)
        })
        .await;
    let processed = turn.map(|turn| match turn {
        Turned::Read(effect) => effect,
        Turned::Covered => WebhookEffect::Covered,
    });
    let id = hint.id;
    match processed {
        Ok(effect) => {
            tracing::info!(id, version = hint.version.as_str(), ?effect, "webhook processed");
            counted(match effect {
                WebhookEffect::Imported { .. } => "imported",
                WebhookEffect::Synced { .. } => "synced",
                WebhookEffect::Ignored => "ignored",
                WebhookEffect::Covered => "covered",
                WebhookEffect::Known => "known",
            });
            StatusCode::OK
        }
        Err(ServerError::Busy) => {
            tracing::warn!(id, "payment busy; the webhook is left to a retry or the sweep");
            counted("busy");
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(e) => {
            tracing::error!(id, error = %e, "webhook processing failed");
            counted("error");
            // a 5xx lets PortOne's retry (when enabled) try again
            if e.unavailable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// Whether the webhook's sender (the client address, through trusted proxies) is one
/// `PORTONE_WEBHOOK_ALLOW` lists; any sender when it lists none. `Err` names the sender.
pub fn sender_allowed(
    allow: &[ipnet::IpNet],
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted_proxies: &[std::net::IpAddr],
) -> Result<(), std::net::IpAddr> {
    if allow.is_empty() {
        return Ok(());
    }
    let forwarded = crate::server::auth::forwarded_for(headers);
    let from = crate::server::auth::client_address(peer.ip(), Some(&forwarded), trusted_proxies);
    if allow.iter().any(|net| net.contains(&from)) {
        Ok(())
    } else {
        Err(from)
    }
}

pub(crate) fn counted(result: &'static str) {
    metrics::counter!("webhooks_total", "result" => result).increment(1);
}

/// What a payment PortOne tells us of may become here.
#[derive(Clone, Copy, Debug)]
pub struct ImportRules {
    /// import PortOne's test-mode payments (the demo's setting)
    pub allow_test_payments: bool,
    /// without an order registration, the owner is the account with the payer's e-mail
    pub owner_from_buyer_email: bool,
}

impl ImportRules {
    pub fn of(settings: &crate::server::config::Settings) -> ImportRules {
        ImportRules {
            allow_test_payments: settings.allow_test_payments,
            owner_from_buyer_email: settings.owner_from_buyer_email,
        }
    }
}

/// A V1 notice: `process_hint` for its imp_uid.
pub async fn process(
    pool: &PgPool,
    portone: &Gateway,
    notice: &WebhookNotice,
    rules: &ImportRules,
) -> Result<WebhookEffect, ServerError> {
    let hint = Hint {
        version: ApiVersion::V1,
        id: &notice.imp_uid,
        cancellation_id: notice.cancellation_id.as_deref(),
    };
    process_hint(pool, portone, hint, rules).await
}

/// How long a hint waits for a refund in flight on its payment to record PortOne's answer.
const IN_FLIGHT_PAUSE: std::time::Duration = std::time::Duration::from_millis(40);

/// A payment we hold is synced; one we do not is read from PortOne and imported. Test-mode
/// payments are imported only with `allow_test_payments` (the demo's setting), and only KRW
/// payments at all: amounts here are whole won.
#[instrument(skip_all, fields(id = hint.id, version = hint.version.as_str()))]
pub async fn process_hint(
    pool: &PgPool,
    portone: &Gateway,
    hint: Hint<'_>,
    rules: &ImportRules,
) -> Result<WebhookEffect, ServerError> {
    let allow_test_payments = rules.allow_test_payments;
    // a V1 hint names PortOne's id, a V2 hint the shop's: either finds a payment of either
    // version (one ledger), which is then read through its own version
    // Our own cancel's webhook can arrive while its tx2 is still recording PortOne's answer
    // (a refund of ours is in flight on the payment): then it is looked up once more a moment
    // later, and found held, rather than read from PortOne and written a second time.
    let mut looks = 0;
    let known = loop {
        looks += 1;
        let known = sqlx::query!(
            r#"select p.id, p.imp_uid, p.merchant_uid, p.api_version as "api_version: ApiVersion",
                      exists (select 1 from payment_cancellations c where c.payment_id = p.id
                              and c.cancellation_id = $3 and c.state = 'succeeded') as "holds_cancellation!",
                      exists (select 1 from refunds r where r.payment_id = p.id and r.status = 'pending') as "in_flight!"
               from payments p
               where (case when $1 = 'v1' then p.imp_uid else p.merchant_uid end) = $2"#,
            hint.version as ApiVersion,
            hint.id,
            hint.cancellation_id
        )
        .fetch_optional(pool)
        .await?;
        match known {
            Some(p)
                if !p.holds_cancellation
                    && p.in_flight
                    && hint.cancellation_id.is_some()
                    && looks < 3 =>
            {
                tokio::time::sleep(IN_FLIGHT_PAUSE).await;
            }
            known => break known,
        }
    };
    if let Some(p) = known {
        // our own cancel's webhook, after its tx2 recorded what PortOne answered: the sweep
        // still re-reads the payment on its schedule
        if p.holds_cancellation {
            return Ok(WebhookEffect::Known);
        }
        let at =
            PaymentRef { version: p.api_version, imp_uid: p.imp_uid, merchant_uid: p.merchant_uid };
        let new_cancellations = refresh(pool, portone, p.id, &at).await?.new_entries;
        return Ok(WebhookEffect::Synced { new_cancellations });
    }
    let read: Result<_, GatewayError> = match hint.version {
        ApiVersion::V1 => portone
            .v1()?
            .payment(hint.id, allow_test_payments)
            .await
            .map(from_v1)
            .map_err(Into::into),
        ApiVersion::V2 => portone.v2()?.payment(hint.id).await.map(from_v2).map_err(Into::into),
    };
    let payment = match read {
        Ok(p) => p,
        Err(e) if e.not_found() => return Ok(WebhookEffect::Ignored),
        Err(e) => return Err(ServerError::PortOne(e)),
    };
    if payment.currency != "KRW" || (payment.sandbox && !allow_test_payments) {
        return Ok(WebhookEffect::Ignored);
    }
    if !matches!(payment.status, PaymentStatus::Paid | PaymentStatus::Cancelled) {
        return Ok(WebhookEffect::Ignored);
    }
    let owner = import_payment(pool, &payment, rules.owner_from_buyer_email).await?;
    // V1 answers the tax split at its own endpoint (V2's came with the payment)
    if payment.balance.is_none() {
        if let Some(id) =
            sqlx::query_scalar!("select id from payments where imp_uid = $1", payment.imp_uid)
                .fetch_optional(pool)
                .await?
        {
            refresh_balance(pool, portone, id, &PaymentRef::from(&payment)).await;
        }
    }
    Ok(WebhookEffect::Imported { owner_found: owner.is_some() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_senders_are_heard_when_a_list_is_given() {
        let allow: Vec<ipnet::IpNet> = vec![
            "52.78.100.19/32".parse().unwrap(),
            "52.78.48.223".parse::<std::net::IpAddr>().unwrap().into(),
        ];
        let peer = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 443);
        let none = HeaderMap::new();
        assert!(sender_allowed(&allow, peer("52.78.100.19"), &none, &[]).is_ok());
        assert!(sender_allowed(&allow, peer("52.78.48.223"), &none, &[]).is_ok());
        assert!(sender_allowed(&allow, peer("203.0.113.5"), &none, &[]).is_err());
        assert!(sender_allowed(&[], peer("203.0.113.5"), &none, &[]).is_ok());
        // behind our proxy, the address it saw; a forged header from elsewhere counts for nothing
        let mut forwarded = HeaderMap::new();
        forwarded.insert("x-forwarded-for", "52.78.100.19".parse().unwrap());
        let proxy = ["10.0.0.2".parse().unwrap()];
        assert!(sender_allowed(&allow, peer("10.0.0.2"), &forwarded, &proxy).is_ok());
        assert!(sender_allowed(&allow, peer("203.0.113.5"), &forwarded, &proxy).is_err());
    }
}
