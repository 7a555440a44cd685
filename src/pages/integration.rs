//! 연동 (`/admin/integration`): the shop's API keys (created, listed, revoked; a key is shown
//! once), the payments no order registration names (주문 미등록), and the shop's event
//! endpoints (added, disabled, deleted, their secret rotated — shown once — and each one's
//! recent deliveries with 재전송). Plain forms.

use leptos::prelude::*;

use crate::api::shop::{
    integration, AddWebhookEndpoint, CreateApiKey, ManageWebhookEndpoint, ResendDelivery,
    RevokeApiKey,
};
use crate::model::shop::{EndpointView, IntegrationView, ShopEvent};
use crate::model::{format_kst, format_kst_seconds, format_won, percent_encode};
use crate::pages::load_error;

#[component]
pub fn IntegrationPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let hooks = HookActions {
        add: ServerAction::<AddWebhookEndpoint>::new(),
        manage: ServerAction::<ManageWebhookEndpoint>::new(),
        resend: ServerAction::<ResendDelivery>::new(),
    };
    let view_data = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                hooks.add.version().get(),
                hooks.manage.version().get(),
                hooks.resend.version().get(),
            )
        },
        |_| integration(),
    );
    view! {
        <section class="card">
            <h1>"연동"</h1>
            <p class="help">
                "쇼핑몰 서버는 API 키로 주문과 주인을 등록하고(" <code>"PUT /api/v1/orders/{merchant_uid}"</code>
                "), 환불 내역을 읽고, 환불을 요청합니다. 고객은 쇼핑몰이 서명한 링크(" <code>"/shop-login?token=…"</code>
                ")로 들어옵니다."
            </p>
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(v) => view! {
                            <Keys v=v.clone() create revoke/>
                            <Endpoints endpoints=v.endpoints new_secret=v.new_endpoint_secret hooks/>
                        }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Keys(
    v: IntegrationView,
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
) -> impl IntoView {
    let error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| revoke.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    view! {
        {v.new_key.map(|key| view! {
            <div class="notice" role="status">
                <p><strong>"새 API 키입니다. 지금 복사해 두세요 — 다시 보여 드리지 않습니다."</strong></p>
                <p><code data-testid="new-api-key">{key}</code></p>
            </div>
        })}
        <p>{if v.shop_login { "쇼핑몰 로그인(/shop-login): 설정됨" } else { "쇼핑몰 로그인(/shop-login): SHOP_LOGIN_SECRET이 없어 꺼져 있습니다" }}</p>
        <h2>"API 키"</h2>
        <ActionForm action=create attr:class="form inline-form">
            <label for="key-name">"키 이름"</label>
            <input id="key-name" name="name" type="text" maxlength="100" required placeholder="예: 주문 서버"/>
            <button type="submit" class="primary" disabled=move || create.pending().get()>"키 만들기"</button>
        </ActionForm>
        {error}
        {if v.keys.is_empty() {
            view! { <p>"만든 키가 없습니다."</p> }.into_any()
        } else {
            view! {
                <table class="table">
                    <thead><tr><th>"이름"</th><th>"키"</th><th>"만든 때"</th><th>"마지막 사용"</th><th>"상태"</th></tr></thead>
                    <tbody>
                        {v.keys.into_iter().map(|k| view! {
                            <tr>
                                <td>{k.name.clone()}</td>
                                <td><code>{format!("{}…", k.prefix)}</code></td>
                                <td>{format_kst(k.created_at)}</td>
                                <td>{k.last_used_at.map(format_kst).unwrap_or_else(|| "쓰인 적 없음".into())}</td>
                                <td>{match k.revoked_at {
                                    Some(at) => view! { <span class="badge badge-closed">{format!("폐기됨 {}", format_kst(at))}</span> }.into_any(),
                                    None => view! {
                                        <ActionForm action=revoke attr:class="inline">
                                            <input type="hidden" name="id" value=k.id.to_string()/>
                                            <button type="submit" aria-label=format!("{} 키 폐기", k.name)>"폐기"</button>
                                        </ActionForm>
                                    }.into_any(),
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <h2>"주문 미등록 결제"</h2>
        <p class="help">"쇼핑몰이 등록하지 않은 주문의 결제입니다. 고객에게는 보이지 않습니다. 주문을 열어 고객을 지정하세요."</p>
        {if v.unassigned.is_empty() {
            view! { <p data-testid="no-unassigned">"주문 미등록 결제가 없습니다."</p> }.into_any()
        } else {
            view! {
                <ul class="events" data-testid="unassigned">
                    {v.unassigned.into_iter().map(|u| view! {
                        <li>
                            <a href=format!("/admin/payments/{}", percent_encode(&u.merchant_uid))>{u.merchant_uid.clone()}</a>
                            " · " {u.order_name.clone()} " · " {format_won(u.amount)}
                            " · 구매자 " {u.buyer_name.clone().unwrap_or_else(|| "-".into())}
                            " · " {u.paid_at.map(format_kst).unwrap_or_default()}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

/// The forms of the event endpoints' section.
#[derive(Clone, Copy)]
struct HookActions {
    add: ServerAction<AddWebhookEndpoint>,
    manage: ServerAction<ManageWebhookEndpoint>,
    resend: ServerAction<ResendDelivery>,
}

#[component]
fn Endpoints(
    endpoints: Vec<EndpointView>,
    new_secret: Option<String>,
    hooks: HookActions,
) -> impl IntoView {
    let HookActions { add, manage, resend } = hooks;
    let error = move || {
        add.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| manage.value().get().and_then(|r| r.err()))
            .or_else(|| resend.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    let all_types = ShopEvent::ALL.map(|e| e.as_str()).join(", ");
    view! {
        <h2>"이벤트 수신 주소 (웹훅)"</h2>
        <p class="help">
            "환불이 요청·승인·거절·철회되거나 성공·실패·검토 필요가 되면, 그리고 PortOne 콘솔 등 밖에서 취소되면 "
            "쇼핑몰 서버로 서명된 이벤트를 보냅니다(Standard Webhooks). 받지 못하면 정해진 간격으로 다시 보냅니다."
        </p>
        {new_secret.map(|secret| view! {
            <div class="notice" role="status">
                <p><strong>"서명 비밀키입니다. 지금 복사해 두세요 — 다시 보여 드리지 않습니다."</strong></p>
                <p><code data-testid="new-endpoint-secret">{secret}</code></p>
            </div>
        })}
        <ActionForm action=add attr:class="form">
            <label for="hook-url">"받을 주소 (https)"</label>
            <input id="hook-url" name="url" type="url" maxlength="2000" required placeholder="https://shop.example/hooks/refunds"/>
            <label for="hook-events">"이벤트 (쉼표로 구분, 비우면 전체)"</label>
            <input id="hook-events" name="events" type="text" maxlength="500" placeholder=all_types/>
            <button type="submit" class="primary" disabled=move || add.pending().get()>"수신 주소 추가"</button>
        </ActionForm>
        {error}
        {if endpoints.is_empty() {
            view! { <p data-testid="no-endpoints">"등록된 수신 주소가 없습니다."</p> }.into_any()
        } else {
            endpoints.into_iter().map(|e| view! { <Endpoint e manage resend/> }).collect_view().into_any()
        }}
    }
}

#[component]
fn Endpoint(
    e: EndpointView,
    manage: ServerAction<ManageWebhookEndpoint>,
    resend: ServerAction<ResendDelivery>,
) -> impl IntoView {
    let id = e.id.to_string();
    let button = move |action: &'static str, text: &'static str| {
        let id = id.clone();
        view! {
            <ActionForm action=manage attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="action" value=action/>
                <button type="submit" disabled=move || manage.pending().get()>{text}</button>
            </ActionForm>
        }
    };
    let events = e.events.clone().map(|v| v.join(", ")).unwrap_or_else(|| "전체".into());
    view! {
        <section class="endpoint" data-endpoint-id=e.id.to_string()>
            <h3><code>{e.url.clone()}</code></h3>
            <p>
                {format!("이벤트: {events} · 추가 {}", format_kst(e.created_at))} " · "
                {match e.disabled_at {
                    Some(at) => view! { <span class="badge badge-closed">{format!("꺼짐 {}", format_kst(at))}</span> }.into_any(),
                    None => view! { <span class="badge badge-paid">"켜짐"</span> }.into_any(),
                }}
            </p>
            <p class="actions">
                {if e.disabled_at.is_some() { button("enable", "켜기") } else { button("disable", "끄기") }}
                {button("rotate", "비밀키 교체")}
                {button("delete", "삭제")}
            </p>
            {if e.deliveries.is_empty() {
                view! { <p>"아직 보낸 이벤트가 없습니다."</p> }.into_any()
            } else {
                view! {
                    <table class="table deliveries">
                        <caption>"최근 전송"</caption>
                        <thead><tr>
                            <th scope="col">"일시"</th><th scope="col">"이벤트"</th><th scope="col">"대상"</th>
                            <th scope="col">"상태"</th><th scope="col" class="num">"시도"</th>
                            <th scope="col">"마지막 응답"</th><th scope="col"></th>
                        </tr></thead>
                        <tbody>
                            {e.deliveries.into_iter().map(|d| {
                                let label = ShopEvent::parse(&d.event_type).map(ShopEvent::label).unwrap_or("");
                                let state = match d.status.as_str() {
                                    "delivered" => "전달됨",
                                    "failed" => "실패",
                                    _ => "대기",
                                };
                                let answer = match (d.last_status, d.last_duration_ms) {
                                    (Some(status), Some(ms)) => format!("HTTP {status} · {ms}ms"),
                                    (None, Some(ms)) => format!("응답 없음 · {ms}ms"),
                                    _ => "-".into(),
                                };
                                view! {
                                    <tr data-status=d.status.clone()>
                                        <td>{format_kst_seconds(d.created_at)}</td>
                                        <td>{format!("{label} ({})", d.event_type)}</td>
                                        <td>{d.subject.clone()}</td>
                                        <td>{state}</td>
                                        <td class="num">{d.attempts}</td>
                                        <td>{answer}</td>
                                        <td>
                                            <ActionForm action=resend attr:class="inline">
                                                <input type="hidden" name="id" value=d.id.to_string()/>
                                                <button type="submit" aria-label=format!("{} 재전송", d.event_type)
                                                    disabled=move || resend.pending().get()>"재전송"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
