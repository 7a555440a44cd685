//! The app shell, routes and the header every page shares.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

use crate::api::{get_current_user, Logout};
use crate::pages::admin::{AdminPaymentPage, AdminRefundsPage};
use crate::pages::admins::{AdminsPage, InvitePage};
use crate::pages::integration::IntegrationPage;
use crate::pages::settings::AdminSettingsPage;
use crate::pages::{login::LoginPage, not_found::NotFound, order::OrderPage, orders::OrdersPage};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="ko">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only with this response's nonce (Leptos puts
/// it on its hydration and streaming scripts; the WASM and JS they load are trusted through
/// `'strict-dynamic'`), everything else from our own origin, no framing.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use axum::http::{header, HeaderValue};
    let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="환불 서비스"/>
        <Router>
            <Layout/>
        </Router>
    }
}

/// Everything inside the router.
#[component]
fn Layout() -> impl IntoView {
    view! {
        <Header/>
        <main id="main">
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=Home ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/orders") view=OrdersPage ssr=SsrMode::Async/>
                <Route path=path!("/orders/:merchant_uid") view=OrderPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/refunds") view=AdminRefundsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/payments/:merchant_uid") view=AdminPaymentPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/settings") view=AdminSettingsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/integration") view=IntegrationPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/admins") view=AdminsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/invite") view=InvitePage ssr=SsrMode::Async/>
            </Routes>
        </main>
    }
}

/// `/` sends people where they belong.
#[component]
fn Home() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) if u.is_admin() => view! { <leptos_router::components::Redirect path="/admin/refunds"/> }.into_any(),
                    Ok(Some(_)) => view! { <leptos_router::components::Redirect path="/orders"/> }.into_any(),
                    _ => view! { <leptos_router::components::Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Header() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    // Re-read on every navigation: signing in ends with one.
    let pathname = leptos_router::hooks::use_location().pathname;
    let user =
        Resource::new(move || (pathname.get(), logout.version().get()), |_| get_current_user());
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"본문으로 건너뛰기"</a>
            <A href="/" attr:class="brand">"환불 서비스"</A>
            <nav aria-label="주 메뉴">
                <Suspense>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) if u.is_admin() => view! {
                                <A href="/admin/refunds">"환불 내역"</A>
                                <A href="/admin/settings">"환불 정책"</A>
                                <A href="/admin/integration">"연동"</A>
                                <A href="/admin/admins">"관리자"</A>
                                <form method="get" action="/admin/find" class="inline search" role="search">
                                    <label for="admin-find" class="sr-only">"주문 찾기"</label>
                                    <input id="admin-find" type="search" name="q" placeholder="주문번호 또는 imp_uid" required/>
                                    <button type="submit">"찾기"</button>
                                </form>
                                <span class="who">{u.display_name.clone()} " " <span class="badge">"관리자"</span></span>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link-button">"로그아웃"</button>
                                </ActionForm>
                            }.into_any(),
                            Ok(Some(u)) => view! {
                                <A href="/orders">"내 주문"</A>
                                <span class="who">{u.display_name.clone()} "님"</span>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link-button">"로그아웃"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! { <A href="/login">"로그인"</A> }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}
