use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{get_order_detail, RequestRefund, WithdrawRefundRequest};
use crate::islands::RefundForm;
use crate::model::{
    format_kst, format_kst_seconds, format_won, safe_link, OrderDetail, RefundOutcome,
    RefundOutcomeStatus, ACCEPTED_EXPLANATION, PENDING_EXPLANATION, REQUESTED_EXPLANATION,
};
use crate::pages::load_error;

/// `/orders/{merchant_uid}`: the order, its refunds, and 환불하기.
#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let merchant_uid = move || params.read().get("merchant_uid").unwrap_or_default();
    let refund = ServerAction::<RequestRefund>::new();
    // 요청 철회 on a waiting refund request (the outcome below offers it)
    let withdraw = ServerAction::<WithdrawRefundRequest>::new();
    provide_context(withdraw);
    let detail = Resource::new(
        move || (merchant_uid(), refund.version().get(), withdraw.version().get()),
        |(m, ..)| get_order_detail(m),
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
                <dt>"결제 연동"</dt><dd data-testid="api-version">{detail.api_version.label()}</dd>
                <dt>"결제일시"</dt><dd>{s.paid_at.map(format_kst).unwrap_or_default()}</dd>
                <dt>"결제금액"</dt><dd data-testid="amount">{format_won(s.amount)}</dd>
                <dt>"환불된 금액"</dt><dd data-testid="cancel-amount">{format_won(s.cancel_amount)}</dd>
                <dt>"환불 가능 금액"</dt><dd data-testid="refundable">{format_won(refundable)}</dd>
                {(detail.held > 0).then(|| view! {
                    <dt>"검토 중인 환불 요청"</dt><dd data-testid="held">{format_won(detail.held)}</dd>
                })}
                {detail.tax.map(|t| view! {
                    <dt>"과세 / 면세 / 부가세"</dt><dd data-testid="tax-split">{t.paid.describe(s.amount)}</dd>
                    <dt>"남은 과세 / 면세 / 부가세"</dt><dd data-testid="tax-left">{t.left.describe(refundable)}</dd>
                })}
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
    let has_tax = detail.tax.is_some();
    (!detail.refunds.is_empty()).then(|| {
        view! {
            <section class="card">
                <h2>"환불 내역"</h2>
                <table class="refunds">
                    <thead>
                        <tr>
                            <th scope="col">"환불 일시"</th>
                            <th scope="col" class="num">"금액"</th>
                            <th scope="col">"상태"</th>
                            {has_tax.then(|| view! { <th scope="col">"면세 / 부가세"</th> })}
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
                                    <td data-state=r.state.as_str()>{r.state.label()}</td>
                                    {has_tax.then(|| view! {
                                        <td>{r.tax.map(|t| format!("{} / {}", format_won(t.tax_free), format_won(t.vat))).unwrap_or_else(|| "-".into())}</td>
                                    })}
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
                <RefundFormOrReason detail=detail_for_form.clone()/>
            }.into_any(),
            None => view! {
                {latest.clone().map(|o| view! { <div class="latest"><h3>"최근 환불 요청"</h3><Outcome outcome=o/></div> })}
                <RefundFormOrReason detail=detail_for_form.clone()/>
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
        RefundOutcomeStatus::Pending if outcome.accepted => view! {
            <div class="result pending" role="status" data-testid="refund-accepted">
                <p><strong>{format!("환불 접수됨 ({amount})")}</strong></p>
                <p>{ACCEPTED_EXPLANATION}</p>
            </div>
        }.into_any(),
        RefundOutcomeStatus::Pending => view! {
            <div class="result pending" role="status">
                <p><strong>{format!("환불 처리 중 ({amount})")}</strong></p>
                <p>{PENDING_EXPLANATION}</p>
            </div>
        }.into_any(),
        RefundOutcomeStatus::Requested => view! {
            <div class="result pending" role="status" data-testid="refund-requested">
                <p><strong>{REQUESTED_EXPLANATION}</strong></p>
                <p>{format!("요청 금액: {amount} · 요청 일시: {}", format_kst_seconds(outcome.requested_at))}</p>
                <WithdrawForm refund_id=outcome.refund_id.to_string()/>
            </div>
        }.into_any(),
        RefundOutcomeStatus::Withdrawn => view! {
            <div class="result" role="status">
                <p><strong>{format!("{amount} 환불 요청을 철회했습니다.")}</strong></p>
            </div>
        }.into_any(),
        RefundOutcomeStatus::Rejected => view! {
            <div class="result failure" role="alert">
                <p><strong>{format!("{amount} 환불 요청이 거절되었습니다.")}</strong></p>
                <p>"사유: " {outcome.message.unwrap_or_default()}</p>
            </div>
        }.into_any(),
    }
}

/// 요청 철회: a plain form, so it works without JavaScript too.
#[component]
fn WithdrawForm(refund_id: String) -> impl IntoView {
    use_context::<ServerAction<WithdrawRefundRequest>>().map(|withdraw| {
        view! {
            <ActionForm action=withdraw attr:class="inline">
                <input type="hidden" name="refund_id" value=refund_id/>
                <button type="submit" disabled=move || withdraw.pending().get()>"요청 철회"</button>
            </ActionForm>
            {move || withdraw.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        }
    })
}

#[component]
fn RefundFormOrReason(detail: OrderDetail) -> impl IntoView {
    match detail.not_refundable_reason.clone() {
        Some(reason) => {
            view! { <p class="not-refundable" data-testid="not-refundable">{reason}</p> }.into_any()
        }
        None => {
            let action = <RequestRefund as leptos::server_fn::ServerFn>::PATH.to_string();
            view! {
                <RefundForm
                    action
                    merchant_uid=detail.summary.merchant_uid.clone()
                    idempotency_key=detail.idempotency_key.to_string()
                    refundable=detail.summary.refundable() - detail.held
                    partial_allowed=detail.partial_allowed
                    refund_banks=detail.refund_banks.clone()
                    ask_tel=detail.refund_tel_required
                    tax_fields=detail.tax_fields
                />
            }
            .into_any()
        }
    }
}
