use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::my_orders;
use crate::model::{format_kst, format_won, percent_encode, OrderSummary};
use crate::pages::load_error;

/// `/orders`: 내 주문.
#[component]
pub fn OrdersPage() -> impl IntoView {
    let orders = Resource::new(|| (), |_| my_orders());
    view! {
        <section class="card">
            <h1>"내 주문"</h1>
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    match orders.await {
                        Ok(list) if list.is_empty() => view! { <p>"주문 내역이 없습니다."</p> }.into_any(),
                        Ok(list) => view! { <OrdersTable orders=list/> }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OrdersTable(orders: Vec<OrderSummary>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="orders">
                <caption class="sr-only">"내 주문 목록"</caption>
                <thead>
                    <tr>
                        <th scope="col">"주문번호"</th>
                        <th scope="col">"상품명"</th>
                        <th scope="col">"결제수단"</th>
                        <th scope="col">"결제일시"</th>
                        <th scope="col" class="num">"결제금액"</th>
                        <th scope="col" class="num">"환불된 금액"</th>
                        <th scope="col" class="num">"환불 가능 금액"</th>
                        <th scope="col">"상태"</th>
                    </tr>
                </thead>
                <tbody>
                    {orders
                        .into_iter()
                        .map(|o| {
                            let href = format!("/orders/{}", percent_encode(&o.merchant_uid));
                            let link_text = o.merchant_uid.clone();
                            view! {
                                <tr data-merchant-uid=o.merchant_uid.clone()>
                                    <td><A href=href>{link_text}</A></td>
                                    <td>{o.order_name.clone()}</td>
                                    <td>{o.pay_method.label().to_string()}</td>
                                    <td>{o.paid_at.map(format_kst).unwrap_or_default()}</td>
                                    <td class="num">{format_won(o.amount)}</td>
                                    <td class="num">{format_won(o.cancel_amount)}</td>
                                    <td class="num">{format_won(o.refundable())}</td>
                                    <td><span class=o.state.css_class()>{o.state.label()}</span></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
