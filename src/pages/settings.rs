//! 환불 정책 (`/admin/settings`): which refunds go straight to PortOne and which wait for an
//! admin as 환불 요청. A plain form; each change is audited and listed here.

use leptos::prelude::*;

use crate::api::admin::{refund_policy, SaveRefundPolicy};
use crate::model::{format_kst_seconds, RefundPolicyView};
use crate::pages::load_error;

#[component]
pub fn AdminSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveRefundPolicy>::new();
    let policy = Resource::new(move || save.version().get(), |_| refund_policy());
    view! {
        <section class="card">
            <h1>"환불 정책"</h1>
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    match policy.await {
                        Ok(p) => view! { <PolicyForm policy=p save/> }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PolicyForm(policy: RefundPolicyView, save: ServerAction<SaveRefundPolicy>) -> impl IntoView {
    let amount = policy.auto_max_amount.map(|a| a.to_string()).unwrap_or_default();
    let days = policy.auto_within_days.map(|d| d.to_string()).unwrap_or_default();
    view! {
        <p data-testid="policy-summary">
            "지금 정책: 고객 환불 중 " <strong>{policy.summary.clone()}</strong>
            "인 것은 바로 환불하고, 나머지는 환불 요청으로 받아 관리자가 승인하거나 거절합니다."
        </p>
        <p class="help">
            "관리자의 환불과 고객이 계좌를 입력하는 환불(가상계좌 등)은 바로 처리됩니다. 계좌번호는 저장하지 않기 때문입니다."
        </p>
        <ActionForm action=save attr:class="form policy">
            <label for="policy-amount">"자동 환불 한도 (원)"</label>
            <input id="policy-amount" name="auto_max_amount" type="text" inputmode="numeric" pattern="[0-9,]*"
                value=amount aria-describedby="policy-help"/>
            <label for="policy-days">"결제 후 기간 (일)"</label>
            <input id="policy-days" name="auto_within_days" type="text" inputmode="numeric" pattern="[0-9]*"
                value=days aria-describedby="policy-help"/>
            <p id="policy-help" class="help">"비워 두면 제한이 없습니다. 둘 다 비우면 모든 환불을 바로 처리합니다."</p>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || save.pending().get()>"저장"</button>
            </div>
            {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </ActionForm>
        <h2>"변경 기록"</h2>
        {if policy.changes.is_empty() {
            view! { <p>"변경 기록이 없습니다."</p> }.into_any()
        } else {
            view! {
                <ol class="events">
                    {policy.changes.into_iter().map(|c| view! {
                        <li><time>{format_kst_seconds(c.at)}</time>" · " {c.actor} " · " {c.after}</li>
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}
