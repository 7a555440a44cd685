use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{get_order_detail, RequestRefund};
use crate::model::{
    format_kst, format_kst_seconds, format_won, safe_link, OrderDetail, PayMethod, RefundOutcome,
    RefundOutcomeStatus, PENDING_EXPLANATION,
};
use crate::pages::load_error;

/// `/orders/{merchant_uid}`: the order, its refunds, and 환불하기.
#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let merchant_uid = move || params.read().get("merchant_uid").unwrap_or_default();
    let refund = ServerAction::<RequestRefund>::new();
    let detail = Resource::new(
        move || (merchant_uid(), refund.version().get()),
        |(m, _)| get_order_detail(m),
    );
    view! {
        <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <OrderView detail=d refund/> }.into_any(),
                    Err(e) => load_error(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OrderView(detail: OrderDetail, refund: ServerAction<RequestRefund>) -> impl IntoView {
    let s = detail.summary.clone();
    let refundable = s.refundable();
    view! {
        <section class="card">
            <p><A href="/orders">"← 내 주문"</A></p>
            <h1>{s.order_name.clone()}</h1>
            <dl class="facts">
                <dt>"주문번호"</dt><dd>{s.merchant_uid.clone()}</dd>
                <dt>"결제수단"</dt><dd>{s.pay_method.label().to_string()}</dd>
                <dt>"결제일시"</dt><dd>{s.paid_at.map(format_kst).unwrap_or_default()}</dd>
                <dt>"결제금액"</dt><dd data-testid="amount">{format_won(s.amount)}</dd>
                <dt>"환불된 금액"</dt><dd data-testid="cancel-amount">{format_won(s.cancel_amount)}</dd>
                <dt>"환불 가능 금액"</dt><dd data-testid="refundable">{format_won(refundable)}</dd>
                <dt>"상태"</dt><dd><span class=s.state.css_class()>{s.state.label()}</span></dd>
            </dl>
            {detail.receipt_url.as_deref().and_then(safe_link).map(|u| view! { <p><a href=u target="_blank" rel="noopener">"결제 영수증"</a></p> })}
        </section>
        <RefundHistory detail=detail.clone()/>
        <section class="card" aria-labelledby="refund-heading">
            <h2 id="refund-heading">"환불"</h2>
            <RefundSection detail refund/>
        </section>
    }
}

#[component]
fn RefundHistory(detail: OrderDetail) -> impl IntoView {
    (!detail.refunds.is_empty()).then(|| {
        view! {
            <section class="card">
                <h2>"환불 내역"</h2>
                <table class="refunds">
                    <thead>
                        <tr>
                            <th scope="col">"환불 일시"</th>
                            <th scope="col" class="num">"금액"</th>
                            <th scope="col">"사유"</th>
                            <th scope="col">"영수증"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {detail
                            .refunds
                            .into_iter()
                            .map(|r| view! {
                                <tr>
                                    <td>{format_kst(r.at)}</td>
                                    <td class="num">{format_won(r.amount)}</td>
                                    <td>{r.reason.unwrap_or_default()}</td>
                                    <td>{r.receipt_url.as_deref().and_then(safe_link).map(|u| view! { <a href=u target="_blank" rel="noopener">"취소 영수증"</a> })}</td>
                                </tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
        }
    })
}

/// The refund form, or why there is none, or the result of the last request.
#[component]
pub fn RefundSection(detail: OrderDetail, refund: ServerAction<RequestRefund>) -> impl IntoView {
    let latest = detail.last_refund.clone();
    let result = move || refund.value().get();
    let detail_for_form = detail.clone();
    view! {
        {move || match result() {
            Some(Ok(outcome)) => view! { <Outcome outcome/> }.into_any(),
            Some(Err(e)) => view! {
                <p class="error" role="alert">{e.to_string()}</p>
                <RefundFormOrReason detail=detail_for_form.clone() refund/>
            }.into_any(),
            None => view! {
                {latest.clone().map(|o| view! { <div class="latest"><h3>"최근 환불 요청"</h3><Outcome outcome=o/></div> })}
                <RefundFormOrReason detail=detail_for_form.clone() refund/>
            }.into_any(),
        }}
    }
}

#[component]
fn Outcome(outcome: RefundOutcome) -> impl IntoView {
    let amount = format_won(outcome.amount);
    match outcome.status {
        RefundOutcomeStatus::Succeeded => view! {
            <div class="result success" role="status">
                <p><strong>{format!("{amount}이 환불되었습니다.")}</strong></p>
                <p>"처리 일시: " {format_kst_seconds(outcome.finished_at.unwrap_or(outcome.requested_at))}</p>
                {outcome.receipt_url.as_deref().and_then(safe_link).map(|u| view! { <p><a href=u target="_blank" rel="noopener">"취소 영수증 보기"</a></p> })}
            </div>
        }.into_any(),
        RefundOutcomeStatus::Failed => view! {
            <div class="result failure" role="alert">
                <p><strong>{format!("{amount} 환불에 실패했습니다.")}</strong></p>
                <p>{outcome.message.unwrap_or_else(|| "알 수 없는 이유로 환불하지 못했습니다.".into())}</p>
            </div>
        }.into_any(),
        RefundOutcomeStatus::Pending => view! {
            <div class="result pending" role="status">
                <p><strong>{format!("환불 처리 중 ({amount})")}</strong></p>
                <p>{PENDING_EXPLANATION}</p>
            </div>
        }.into_any(),
    }
}

#[component]
fn RefundFormOrReason(detail: OrderDetail, refund: ServerAction<RequestRefund>) -> impl IntoView {
    match detail.not_refundable_reason.clone() {
        Some(reason) => {
            view! { <p class="not-refundable" data-testid="not-refundable">{reason}</p> }.into_any()
        }
        None => view! { <RefundForm detail refund/> }.into_any(),
    }
}

#[component]
fn RefundForm(detail: OrderDetail, refund: ServerAction<RequestRefund>) -> impl IntoView {
    let refundable = detail.summary.refundable();
    let is_vbank = detail.summary.pay_method == PayMethod::Vbank;
    let amount = RwSignal::new(refundable.to_string());
    // Read when asking for confirmation: the customer may have typed before hydration.
    let amount_input = NodeRef::<leptos::html::Input>::new();
    // With WebAssembly the first press asks for confirmation; without it the form submits.
    let confirming = RwSignal::new(false);
    let pending = refund.pending();
    let amount_text = move || {
        let digits: String = amount.get().chars().filter(char::is_ascii_digit).collect();
        digits.parse::<i64>().map(format_won).unwrap_or_else(|_| "입력한 금액".into())
    };
    view! {
        <ActionForm action=refund attr:class="form refund-form">
            <input type="hidden" name="merchant_uid" value=detail.summary.merchant_uid.clone()/>
            <input type="hidden" name="idempotency_key" value=detail.idempotency_key.clone()/>
            <label for="refund-amount">"환불 금액 (원)"</label>
            <input
                id="refund-amount"
                node_ref=amount_input
                name="amount"
                type="text"
                inputmode="numeric"
                pattern="[0-9,]*"
                required
                readonly=!detail.partial_allowed
                value=refundable.to_string()
                on:input=move |ev| { amount.set(event_target_value(&ev)); confirming.set(false); }
                aria-describedby="refund-amount-help"
            />
            <p id="refund-amount-help" class="help">
                {format!("환불 가능 금액: {}", format_won(refundable))}
                {(!detail.partial_allowed).then_some(" · 이 결제수단은 전액만 환불할 수 있습니다.")}
            </p>
            <label for="refund-reason">"환불 사유"</label>
            <textarea id="refund-reason" name="reason" required maxlength="200" rows="2"></textarea>
            {is_vbank.then(|| view! {
                <fieldset class="vbank">
                    <legend>"환불받을 계좌 (가상계좌 결제)"</legend>
                    <label for="refund-holder">"예금주"</label>
                    <input id="refund-holder" name="refund_holder" type="text" required maxlength="16" autocomplete="name"/>
                    <label for="refund-bank">"은행"</label>
                    <select id="refund-bank" name="refund_bank" required>
                        <option value="">"은행을 선택하세요"</option>
                        {detail.refund_banks.iter().map(|(code, name)| view! { <option value=code.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    <label for="refund-account">"계좌번호"</label>
                    <input id="refund-account" name="refund_account" type="text" inputmode="numeric" required maxlength="20" autocomplete="off"/>
                </fieldset>
            })}
            <Show when=move || confirming.get()>
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
                    <p id="confirm-text"><strong>{move || format!("{}을 환불합니다", amount_text())}</strong></p>
                    <p>"환불은 되돌릴 수 없습니다. 계속하시겠습니까?"</p>
                </div>
            </Show>
            <div class="actions">
                <button
                    type="submit"
                    class="primary"
                    disabled=move || pending.get()
                    on:click=move |ev| {
                        if !confirming.get_untracked() {
                            ev.prevent_default();
                            if let Some(input) = amount_input.get_untracked() {
                                amount.set(input.value());
                            }
                            confirming.set(true);
                        }
                    }
                >
                    {move || if pending.get() { "환불 요청 중…" } else if confirming.get() { "확인, 환불하기" } else { "환불하기" }}
                </button>
                <Show when=move || confirming.get()>
                    <button type="button" on:click=move |_| confirming.set(false)>"취소"</button>
                </Show>
            </div>
        </ActionForm>
    }
}
