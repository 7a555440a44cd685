use leptos::prelude::*;
use leptos_router::components::A;

/// The 404 page. Sets the HTTP status when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card">
            <h1>"페이지를 찾을 수 없습니다"</h1>
            <p>"요청하신 주문이나 페이지가 없거나, 볼 수 있는 권한이 없습니다."</p>
            <A href="/orders">"내 주문으로 돌아가기"</A>
        </section>
    }
}
