//! 연동 (`/admin/integration`): the shop's API keys (created, listed, revoked; a key is shown
//! once) and the payments no order registration names (주문 미등록). Plain forms.

use leptos::prelude::*;

use crate::api::shop::{integration, CreateApiKey, RevokeApiKey};
use crate::model::shop::IntegrationView;
use crate::model::{format_kst, format_won, percent_encode};
use crate::pages::load_error;

#[component]
pub fn IntegrationPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let view_data =
        Resource::new(move || (create.version().get(), revoke.version().get()), |_| integration());
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
                        Ok(v) => view! { <Keys v create revoke/> }.into_any(),
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
