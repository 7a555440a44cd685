//! The only parts of the UI that run in the browser (Leptos islands): everything else is HTML
//! from the server, and every island's form also works before and without WebAssembly. Props
//! are small serde values — won amounts as integers, strings already formatted on the server —
//! so no date code, JSON decoding of large structs or server-function client crosses into the
//! WASM bundle.

use leptos::prelude::*;

use crate::model::format_won;

/// Marks `<body data-hydrated="true">` once an island runs: for people and browser tests, the
/// sign that the JavaScript-only parts (the confirmation step) now work.
fn mark_hydrated() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// The password field with 비밀번호 표시.
#[island]
pub fn PasswordField() -> impl IntoView {
    mark_hydrated();
    let shown = RwSignal::new(false);
    view! {
        <label for="password">"비밀번호"</label>
        <input
            id="password"
            name="password"
            type=move || if shown.get() { "text" } else { "password" }
            autocomplete="current-password"
            required
        />
        <label class="check">
            <input
                type="checkbox"
                id="show-password"
                on:change=move |ev| shown.set(event_target_checked(&ev))
            />
            "비밀번호 표시"
        </label>
    }
}

/// 환불하기: a plain form posting to the refund server function. With WebAssembly the first
/// press shows what will be refunded and asks again; the confirmed press submits and disables
/// the button, so a double click sends one request (and the idempotency key makes even two
/// one refund). The server answers by showing the order with the result.
#[island]
#[allow(clippy::too_many_arguments)]
pub fn RefundForm(
    /// the refund server function's URL
    action: String,
    merchant_uid: String,
    idempotency_key: String,
    refundable: i64,
    partial_allowed: bool,
    /// banks the refund may go to (code, name); empty when no account is asked for
    refund_banks: Vec<(String, String)>,
    /// the PG needs the account holder's phone with the account
    ask_tel: bool,
    /// an admin may name the tax-free part and VAT (empty: in proportion to what remains)
    tax_fields: bool,
) -> impl IntoView {
    mark_hydrated();
    let amount = RwSignal::new(refundable.to_string());
    // Read when asking for confirmation: the customer may have typed before hydration.
    let amount_input = NodeRef::<leptos::html::Input>::new();
    let confirming = RwSignal::new(false);
    let submitting = RwSignal::new(false);
    let amount_text = move || {
        let digits: String = amount.get().chars().filter(char::is_ascii_digit).collect();
        digits.parse::<i64>().map(format_won).unwrap_or_else(|_| "입력한 금액".into())
    };
    let asks_account = !refund_banks.is_empty();
    view! {
        <form
            method="post"
            action=action
            class="form refund-form"
            on:submit=move |_| submitting.set(true)
        >
            <input type="hidden" name="merchant_uid" value=merchant_uid/>
            <input type="hidden" name="idempotency_key" value=idempotency_key/>
            <label for="refund-amount">"환불 금액 (원)"</label>
            <input
                id="refund-amount"
                node_ref=amount_input
                name="amount"
                type="text"
                inputmode="numeric"
                pattern="[0-9,]*"
                required
                readonly=!partial_allowed
                value=refundable.to_string()
                on:input=move |ev| { amount.set(event_target_value(&ev)); confirming.set(false); }
                aria-describedby="refund-amount-help"
            />
            <p id="refund-amount-help" class="help">
                {format!("환불 가능 금액: {}", format_won(refundable))}
                {(!partial_allowed).then_some(" · 이 결제수단은 전액만 환불할 수 있습니다.")}
            </p>
            <label for="refund-reason">"환불 사유"</label>
            <textarea id="refund-reason" name="reason" required maxlength="200" rows="2"></textarea>
            {asks_account.then(|| view! {
                <fieldset class="vbank">
                    <legend>"환불받을 계좌"</legend>
                    <label for="refund-holder">"예금주"</label>
                    <input id="refund-holder" name="refund_holder" type="text" required maxlength="16" autocomplete="name"/>
                    <label for="refund-bank">"은행"</label>
                    <select id="refund-bank" name="refund_bank" required>
                        <option value="">"은행을 선택하세요"</option>
                        {refund_banks.iter().map(|(code, name)| view! { <option value=code.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    <label for="refund-account">"계좌번호"</label>
                    <input id="refund-account" name="refund_account" type="text" inputmode="numeric" required maxlength="20" autocomplete="off"/>
                    {ask_tel.then(|| view! {
                        <label for="refund-tel">"예금주 연락처"</label>
                        <input id="refund-tel" name="refund_tel" type="tel" inputmode="tel" required maxlength="16" autocomplete="tel"/>
                    })}
                </fieldset>
            })}
            {tax_fields.then(|| view! {
                <fieldset class="tax">
                    <legend>"면세·부가세"</legend>
                    <p class="help" id="tax-help">"비워 두면 남은 면세 금액과 부가세에 비례해 나눕니다."</p>
                    <label for="refund-tax-free">"면세 금액 (원)"</label>
                    <input id="refund-tax-free" name="tax_free" type="text" inputmode="numeric" pattern="[0-9,]*" aria-describedby="tax-help"/>
                    <label for="refund-vat">"부가세 (원)"</label>
                    <input id="refund-vat" name="vat_amount" type="text" inputmode="numeric" pattern="[0-9,]*" aria-describedby="tax-help"/>
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
                    disabled=move || submitting.get()
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
                    {move || if submitting.get() { "환불 요청 중…" } else if confirming.get() { "확인, 환불하기" } else { "환불하기" }}
                </button>
                <Show when=move || confirming.get() && !submitting.get()>
                    <button type="button" on:click=move |_| confirming.set(false)>"취소"</button>
                </Show>
            </div>
        </form>
    }
}
