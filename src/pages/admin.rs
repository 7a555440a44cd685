//! Admin pages: 환불 내역 (`/admin/refunds`) and the order timeline (`/admin/payments/{uid}`).
//! The filter is a plain GET form and every link carries it in the URL, so the list is
//! shareable, the back button works, and it all works without JavaScript.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::admin::{
    admin_refunds, admin_timeline, AdminApproveRequest, AdminRejectRequest, AdminReview, AdminSync,
};
use crate::api::shop::AssignPayment;
use crate::api::{get_order_detail, RequestRefund};
use crate::model::admin::*;
use crate::model::{
    format_kst, format_kst_seconds, format_won, percent_encode, safe_link, ApiVersion,
    CancellationState, PayMethod, Role,
};
use crate::pages::load_error;
use crate::pages::order::RefundSection;

fn status_badge(status: RefundStatus) -> &'static str {
    match status {
        RefundStatus::Succeeded => "badge badge-paid",
        RefundStatus::Failed => "badge badge-failed",
        RefundStatus::NeedsReview => "badge badge-review",
        RefundStatus::Pending | RefundStatus::Requested => "badge badge-pending",
        RefundStatus::Withdrawn | RefundStatus::Rejected => "badge badge-closed",
    }
}

#[component]
pub fn AdminRefundsPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        let q = query_map.read();
        RefundQuery {
            status: q.get("status"),
            from: q.get("from"),
            to: q.get("to"),
            pay_method: q.get("pay_method"),
            requester: q.get("requester"),
            q: q.get("q"),
            version: q.get("version"),
            size: q.get("size"),
            after: q.get("after"),
            before: q.get("before"),
        }
        .normalized()
    };
    let page = Resource::new(query, admin_refunds);
    view! {
        <section class="card">
            <h1>"환불 내역"</h1>
            {move || view! { <FilterForm current=query()/> }}
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    let current = query();
                    match page.await {
                        Ok(p) => view! {
                            <p class="waiting">
                                <a href="/admin/refunds?status=requested" data-testid="waiting-requests">
                                    {format!("승인 대기 {}건", p.waiting_requests)}
                                </a>
                                " · " <a href="/admin/settings">"환불 정책"</a>
                            </p>
                            <RefundList page=p current/>
                        }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn FilterForm(current: RefundQuery) -> impl IntoView {
    let size = current.page_size();
    view! {
        <form method="get" action="/admin/refunds" class="filters" aria-label="환불 내역 필터">
            <FilterSelect id="f-status" name="status" label="상태" current=current.status.clone()
                options=RefundStatus::ALL.map(|s| (s.as_str(), s.label())).to_vec()/>
            <div>
                <label for="f-from">"시작일"</label>
                <input id="f-from" type="date" name="from" value=current.from.clone().unwrap_or_default()/>
            </div>
            <div>
                <label for="f-to">"종료일"</label>
                <input id="f-to" type="date" name="to" value=current.to.clone().unwrap_or_default()/>
            </div>
            <FilterSelect id="f-pay" name="pay_method" label="결제수단" current=current.pay_method.clone()
                options={PayMethod::FILTERABLE.iter().map(|m| (m.as_str(), m.label())).collect::<Vec<_>>()}/>
            <FilterSelect id="f-requester" name="requester" label="요청자" current=current.requester.clone()
                options=[Role::Customer, Role::Admin, Role::Shop].map(|r| (r.as_str(), r.label())).to_vec()/>
            <FilterSelect id="f-version" name="version" label="PortOne 버전" current=current.version.clone()
                options=ApiVersion::ALL.map(|v| (v.as_str(), v.label())).to_vec()/>
            <div>
                <label for="f-q">"검색"</label>
                <input id="f-q" type="search" name="q" placeholder="주문번호, imp_uid, 고객 이메일·이름" value=current.q.clone().unwrap_or_default()/>
            </div>
            <div>
                <label for="f-size">"페이지 크기"</label>
                <select id="f-size" name="size">
                    {PAGE_SIZES.into_iter().map(|s| view! {
                        <option value=s.to_string() selected=s == size>{format!("{s}개")}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="filter-actions">
                <button type="submit" class="primary">"조회"</button>
                <a href="/admin/refunds">"초기화"</a>
            </div>
        </form>
    }
}

/// One labelled select of the filter: "전체" (no filter) and the given (value, label) pairs.
#[component]
fn FilterSelect(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    current: Option<String>,
    options: Vec<(&'static str, &'static str)>,
) -> impl IntoView {
    view! {
        <div>
            <label for=id>{label}</label>
            <select id=id name=name>
                <option value="">"전체"</option>
                {options.into_iter().map(|(value, text)| view! {
                    <option value=value selected=current.as_deref() == Some(value)>{text}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn RefundList(page: RefundPage, current: RefundQuery) -> impl IntoView {
    let base = current.without_cursor();
    let csv_href = format!("/admin/refunds.csv?{}", base.to_query_string());
    let next_href = page.next.clone().map(|c| {
        format!(
            "/admin/refunds?{}",
            RefundQuery { after: Some(c), ..base.clone() }.to_query_string()
        )
    });
    let prev_href = page.prev.clone().map(|c| {
        format!(
            "/admin/refunds?{}",
            RefundQuery { before: Some(c), ..base.clone() }.to_query_string()
        )
    });
    view! {
        <Totals totals=page.totals.clone()/>
        <Chart days=page.chart.clone() from=page.chart_from to=page.chart_to/>
        <p class="csv"><a href=csv_href download>"CSV 내려받기"</a>" (현재 필터의 모든 행)"</p>
        {if page.rows.is_empty() {
            view! { <p>"조건에 맞는 환불이 없습니다."</p> }.into_any()
        } else {
            view! { <RefundTable rows=page.rows.clone()/> }.into_any()
        }}
        <nav class="pager" aria-label="페이지">
            {prev_href.map(|h| view! { <A href=h attr:rel="prev">"← 이전"</A> })}
            {next_href.map(|h| view! { <A href=h attr:rel="next">"다음 →"</A> })}
        </nav>
    }
}

#[component]
fn Totals(totals: Vec<StatusTotal>) -> impl IntoView {
    let count: i64 = totals.iter().map(|t| t.count).sum();
    view! {
        <dl class="totals" aria-label="합계">
            <div><dt>"전체"</dt><dd data-testid="total-count">{format!("{count}건")}</dd></div>
            {totals.into_iter().map(|t| view! {
                <div data-status=t.status.as_str()>
                    <dt>{t.status.label()}</dt>
                    <dd>{format!("{}건 · {}", t.count, format_won(t.amount))}</dd>
                </div>
            }).collect_view()}
        </dl>
    }
}

/// Refunded won per day as an SVG bar chart, drawn on the server (readable without JavaScript).
#[component]
fn Chart(days: Vec<DayTotal>, from: chrono::NaiveDate, to: chrono::NaiveDate) -> impl IntoView {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const PAD: f64 = 28.0;
    let max = days.iter().map(|d| d.refunded).max().unwrap_or(0).max(1);
    let total: i64 = days.iter().map(|d| d.refunded).sum();
    let slot = (W - PAD) / days.len().max(1) as f64;
    let label_every = (days.len() / 8).max(1);
    let summary = format!(
        "{from} ~ {to} 일별 환불 금액, 합계 {}, 최대 {}",
        format_won(total),
        format_won(max)
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {}", H + 20.0) role="img" aria-labelledby="chart-title chart-desc" width="100%">
                <title id="chart-title">"일별 환불 금액"</title>
                <desc id="chart-desc">{summary.clone()}</desc>
                <line x1=PAD y1=H x2=W y2=H stroke="#9fb3c8"/>
                <text x="0" y="12" font-size="10" fill="#52606d">{format_won(max)}</text>
                {days.iter().enumerate().map(|(i, d)| {
                    let h = (d.refunded as f64 / max as f64) * (H - 20.0);
                    let x = PAD + i as f64 * slot;
                    let label = (i % label_every == 0).then(|| view! {
                        <text x=x y=H + 14.0 font-size="10" fill="#52606d">{d.day.format("%m-%d").to_string()}</text>
                    });
                    view! {
                        <g>
                            <rect x=x + 1.0 y=H - h width=(slot - 2.0).max(1.0) height=h fill="#1d4ed8">
                                <title>{format!("{}: {}", d.day, format_won(d.refunded))}</title>
                            </rect>
                            {label}
                        </g>
                    }
                }).collect_view()}
            </svg>
            <figcaption>{summary}</figcaption>
        </figure>
    }
}

/// 지연: a refund pending longer than the alert age, with its age.
#[component]
fn Delayed(secs: Option<i64>) -> impl IntoView {
    secs.map(|s| view! { " " <span class="badge badge-delayed" data-testid="delayed">{format!("지연 {}", format_age(s))}</span> })
}

#[component]
fn RefundTable(rows: Vec<AdminRefundRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="admin-refunds">
                <caption class="sr-only">"환불 목록 (최신순)"</caption>
                <thead>
                    <tr>
                        <th scope="col">"요청 일시"</th>
                        <th scope="col">"주문번호"</th>
                        <th scope="col">"고객"</th>
                        <th scope="col">"상품명"</th>
                        <th scope="col">"결제수단"</th>
                        <th scope="col" class="num">"요청 금액"</th>
                        <th scope="col">"상태"</th>
                        <th scope="col">"요청자"</th>
                        <th scope="col">"사유"</th>
                        <th scope="col">"PortOne 메시지"</th>
                        <th scope="col">"영수증"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let href = format!("/admin/payments/{}", percent_encode(&r.merchant_uid));
                        let uid = r.merchant_uid.clone();
                        view! {
                            <tr data-refund-id=r.id.to_string()>
                                <td>{format_kst(r.requested_at)}</td>
                                <td><A href=href>{uid}</A><br/><small data-testid="row-version">{r.api_version.label()}</small></td>
                                <td>
                                    {r.customer_name.clone().unwrap_or_else(|| "(비회원)".into())}<br/><small>{r.customer_email.clone().unwrap_or_default()}</small>
                                    {r.unassigned.then(|| view! { <br/><span class="badge badge-review">"주문 미등록"</span> })}
                                    {r.amount_mismatch.then(|| view! { <br/><span class="badge badge-failed">"금액 불일치"</span> })}
                                </td>
                                <td>{r.order_name.clone()}</td>
                                <td>{r.pay_method.label().to_string()}</td>
                                <td class="num">{format_won(r.amount)}</td>
                                <td>
                                    <span class=status_badge(r.status)>{r.status.label()}</span>
                                    <Delayed secs=r.delayed_secs/>
                                </td>
                                <td>{r.requester_role.label().to_string()}<br/><small>{r.requester_name.clone()}</small></td>
                                <td class="wrap">{r.reason.clone()}</td>
                                <td class="wrap">{r.portone_message.clone().unwrap_or_default()}</td>
                                <td>{r.receipt_url.as_deref().and_then(safe_link).map(|u| view! { <a href=u target="_blank" rel="noopener">"영수증"</a> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `/admin/payments/{merchant_uid}`.
#[component]
pub fn AdminPaymentPage() -> impl IntoView {
    let params = use_params_map();
    let merchant_uid = move || params.read().get("merchant_uid").unwrap_or_default();
    let refund = ServerAction::<RequestRefund>::new();
    let sync = ServerAction::<AdminSync>::new();
    let review = ServerAction::<AdminReview>::new();
    let approve = ServerAction::<AdminApproveRequest>::new();
    let reject = ServerAction::<AdminRejectRequest>::new();
    let assign = ServerAction::<AssignPayment>::new();
    let key = move || {
        (
            merchant_uid(),
            refund.version().get(),
            sync.version().get(),
            review.version().get(),
            (approve.version().get(), reject.version().get(), assign.version().get()),
        )
    };
    let timeline = Resource::new(key, |(m, ..)| admin_timeline(m));
    // after PortOne과 동기화 the server comes back here saying what changed
    let query = use_query_map();
    let synced =
        move || query.read().get("synced").and_then(|s| SyncReport::sentence_from_query(&s));
    let detail = Resource::new(key, |(m, ..)| get_order_detail(m));
    view! {
        <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
            {move || Suspend::new(async move {
                match (timeline.await, detail.await) {
                    (Ok(t), Ok(d)) => { let unassigned = t.unassigned.then(|| t.merchant_uid.clone()); view! {
                        <Timeline t=t.clone() review decisions=(approve, reject)/>
                        <section class="card" aria-labelledby="admin-actions">
                            <h2 id="admin-actions">"조치"</h2>
                            <ActionForm action=sync attr:class="inline">
                                <input type="hidden" name="merchant_uid" value=t.merchant_uid.clone()/>
                                <button type="submit">"PortOne과 동기화"</button>
                            </ActionForm>
                            {move || match sync.value().get() {
                                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
                                _ => synced().map(|sentence| view! { <p class="result success" role="status">{sentence}</p> }.into_any()),
                            }}
                            {unassigned.map(|uid| view! {
                                <h3>"고객 지정"</h3>
                                <p class="help">"쇼핑몰이 등록하지 않은 주문입니다. 고객에게는 보이지 않습니다. 쇼핑몰의 고객 ID나 이메일로 주인을 지정하세요."</p>
                                <ActionForm action=assign attr:class="form inline-form">
                                    <input type="hidden" name="merchant_uid" value=uid/>
                                    <label for="assign-customer">"고객 ID 또는 이메일"</label>
                                    <input id="assign-customer" name="customer" type="text" required maxlength="254"/>
                                    <button type="submit" disabled=move || assign.pending().get()>"지정"</button>
                                </ActionForm>
                            })}
                            {move || assign.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
                            <h3>"고객 대신 환불"</h3>
                            <RefundSection detail=d refund/>
                        </section>
                    }.into_any() }
                    (Err(e), _) | (_, Err(e)) => load_error(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Timeline(
    t: PaymentTimeline,
    review: ServerAction<AdminReview>,
    decisions: (ServerAction<AdminApproveRequest>, ServerAction<AdminRejectRequest>),
) -> impl IntoView {
    let cancellable = t.amount - t.cancel_amount;
    // what an admin may link a refund under review to: applied cancellations no refund explains
    let unlinked: Vec<TimelineCancellation> = t
        .cancellations
        .iter()
        .filter(|c| c.refund_id.is_none() && c.state == CancellationState::Succeeded)
        .cloned()
        .collect();
    view! {
        <section class="card">
            <p><A href="/admin/refunds">"← 환불 내역"</A></p>
            <h1>{t.order_name.clone()}</h1>
            <dl class="facts">
                <dt>"주문번호"</dt><dd>{t.merchant_uid.clone()}</dd>
                <dt>"imp_uid"</dt><dd>{t.imp_uid.clone()}</dd>
                <dt>"PortOne 버전"</dt><dd data-testid="admin-version">{t.api_version.label()}</dd>
                <dt>"고객"</dt><dd data-testid="admin-customer">
                    {t.customer_name.clone().unwrap_or_else(|| "(연결된 계정 없음)".into())} " · 구매자 입력 " {t.buyer_email.clone().unwrap_or_default()}
                    {t.unassigned.then(|| view! { " " <span class="badge badge-review">"주문 미등록"</span> })}
                </dd>
                {t.registered_amount.map(|registered| view! {
                    <dt>"등록된 주문 금액"</dt>
                    <dd>{format_won(registered)}
                        {(registered != t.amount).then(|| view! { " " <span class="badge badge-failed" data-testid="amount-mismatch">"금액 불일치"</span> })}
                    </dd>
                })}
                <dt>"결제수단 / PG"</dt><dd>{format!("{} / {}", t.pay_method.label(), t.pg_provider)}</dd>
                <dt>"결제일시"</dt><dd>{t.paid_at.map(format_kst).unwrap_or_default()}</dd>
                <dt>"결제금액"</dt><dd>{format_won(t.amount)}</dd>
                <dt>"환불된 금액"</dt><dd data-testid="admin-cancel-amount">{format_won(t.cancel_amount)}</dd>
                <dt>"환불 가능 금액"</dt><dd>{format_won(cancellable)}</dd>
                {t.tax.map(|x| view! {
                    <dt>"과세 / 면세 / 부가세"</dt><dd>{x.paid.describe(t.amount)}</dd>
                    <dt>"남은 과세 / 면세 / 부가세"</dt><dd data-testid="admin-tax-left">{x.left.describe(cancellable)}</dd>
                })}
                <dt>"PortOne 상태"</dt><dd>{t.status.clone()}</dd>
                <dt>"마지막 동기화"</dt><dd>{t.synced_at.map(format_kst_seconds).unwrap_or_else(|| "-".into())}</dd>
            </dl>
        </section>
        <section class="card">
            <h2>"PortOne 취소 내역"</h2>
            {if t.cancellations.is_empty() {
                view! { <p>"취소 내역이 없습니다."</p> }.into_any()
            } else {
                view! {
                    <table class="cancellations">
                        <thead><tr>
                            <th scope="col">"취소 일시"</th><th scope="col" class="num">"금액"</th><th scope="col">"상태"</th><th scope="col">"사유"</th>
                            <th scope="col">"출처"</th><th scope="col">"cancellation_id"</th><th scope="col">"영수증"</th>
                        </tr></thead>
                        <tbody>
                            {t.cancellations.iter().map(|c| view! {
                                <tr>
                                    <td>{format_kst_seconds(c.cancelled_at)}</td>
                                    <td class="num">{format_won(c.amount)}</td>
                                    <td data-state=c.state.as_str()>{c.state.label()}</td>
                                    <td>{c.reason.clone().unwrap_or_default()}</td>
                                    <td>{match &c.refund_id {
                                        Some(id) => view! { <span class="badge badge-paid">"이 서비스의 환불"</span><br/><small>{id.to_string()[..8].to_string()}</small> }.into_any(),
                                        None => view! { <span class="badge badge-pending">"서비스 외부에서 취소됨 (PortOne 콘솔)"</span> }.into_any(),
                                    }}</td>
                                    <td><small>{c.cancellation_id.clone().unwrap_or_default()}</small></td>
                                    <td>{c.receipt_url.as_deref().and_then(safe_link).map(|u| view! { <a href=u target="_blank" rel="noopener">"영수증"</a> })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="card">
            <h2>"환불 요청과 기록"</h2>
            {if t.refunds.is_empty() { Some(view! { <p>"환불 요청이 없습니다."</p> }) } else { None }}
            <ol class="timeline">
                {t.refunds.iter().map(|r| view! {
                    <li data-refund-id=r.id.to_string()>
                        <p>
                            <strong>{format!("{} 환불 요청", format_won(r.amount))}</strong>" "
                            <span class=status_badge(r.status)>{r.status.label()}</span>
                            <Delayed secs=r.delayed_secs/>
                            " · " {format!("{} {}", r.requester_role.label(), r.requester_name)}
                            " · " {format_kst_seconds(r.created_at)}
                            " · 시도 " {r.attempts} "회 · checksum " {format_won(r.checksum)}
                        </p>
                        <p>"사유: " {r.reason.clone()}</p>
                        {r.tax.map(|t| view! { <p data-testid="refund-tax">{t.describe(r.amount)}</p> })}
                        {r.portone_message.clone().map(|m| view! { <p>{format!("PortOne 메시지 (code {}): {m}", r.portone_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()))}</p> })}
                        {(r.status == RefundStatus::Requested).then(|| view! {
                            <RequestDecision refund_id=r.id.to_string() approve=decisions.0 reject=decisions.1/>
                        })}
                        {r.decision_note.clone().map(|note| view! { <p>"거절 사유: " {note}</p> })}
                        {(r.status == RefundStatus::NeedsReview).then(|| view! {
                            <ReviewForm refund=r.clone() candidates=unlinked.iter().filter(|c| c.amount == r.amount).cloned().collect() review/>
                        })}
                        <ol class="events">
                            {r.events.iter().map(|e| view! {
                                <li><time>{format_kst_seconds(e.at)}</time>" " <strong class="event-kind" data-kind=e.kind.clone()>{e.label().to_string()}</strong>" · " {e.actor.clone()} " " <small>{e.detail.clone()}</small></li>
                            }).collect_view()}
                        </ol>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// 승인 or 거절 of a customer's refund request. Plain forms: they work without JavaScript.
#[component]
fn RequestDecision(
    refund_id: String,
    approve: ServerAction<AdminApproveRequest>,
    reject: ServerAction<AdminRejectRequest>,
) -> impl IntoView {
    let reason_id = format!("reject-reason-{refund_id}");
    let (approve_id, reject_id) = (refund_id.clone(), refund_id);
    let busy = move || approve.pending().get() || reject.pending().get();
    view! {
        <div class="decision">
            <p><strong>"환불 요청 검토: "</strong>"승인하면 고객의 사유로 지금 PortOne에 환불을 요청합니다. 거절 사유는 고객에게 보입니다."</p>
            <ActionForm action=approve attr:class="inline">
                <input type="hidden" name="refund_id" value=approve_id/>
                <button type="submit" class="primary" disabled=busy>"승인"</button>
            </ActionForm>
            <ActionForm action=reject attr:class="reject">
                <input type="hidden" name="refund_id" value=reject_id/>
                <label for=reason_id.clone()>"거절 사유"</label>
                <input id=reason_id type="text" name="reason" required maxlength="200"/>
                <button type="submit" disabled=busy>"거절"</button>
            </ActionForm>
            {move || approve.value().get().and_then(|r| r.err()).or_else(|| reject.value().get().and_then(|r| r.err()))
                .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </div>
    }
}

/// The decision on a refund that needs review: link one of PortOne's unexplained entries of
/// the same amount as its cancel, or record that no money moved. Works without JavaScript.
#[component]
fn ReviewForm(
    refund: TimelineRefund,
    candidates: Vec<TimelineCancellation>,
    review: ServerAction<AdminReview>,
) -> impl IntoView {
    let legend_id = format!("review-{}", refund.id);
    let labelled_by = legend_id.clone();
    let none = candidates.is_empty();
    view! {
        <ActionForm action=review attr:class="review" attr:aria-labelledby=labelled_by>
            <p id=legend_id><strong>"검토: "</strong>"PortOne 취소 내역과 이 환불 시도를 비교해 결정하세요. 결정은 감사 기록에 남습니다."</p>
            <input type="hidden" name="refund_id" value=refund.id.to_string()/>
            {if none {
                view! { <p>"이 금액과 같은, 연결되지 않은 PortOne 취소 내역이 없습니다."</p> }.into_any()
            } else {
                view! {
                    <fieldset>
                        <legend>"이 환불의 취소로 볼 PortOne 내역"</legend>
                        {candidates.into_iter().map(|c| {
                            let id = format!("entry-{}-{}", refund.id, c.entry_key);
                            view! {
                                <div>
                                    <input type="radio" name="entry_key" id=id.clone() value=c.entry_key.clone()/>
                                    <label for=id>{format!("{} · {} · {}", format_kst_seconds(c.cancelled_at), format_won(c.amount), c.reason.clone().unwrap_or_default())}</label>
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                }.into_any()
            }}
            <button type="submit" name="decision" value="succeeded" disabled=move || none || review.pending().get()>"선택한 내역으로 성공 처리"</button>
            " "
            <button type="submit" name="decision" value="failed" disabled=move || review.pending().get()>"환불되지 않음 (실패 처리)"</button>
            {move || review.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </ActionForm>
    }
}
