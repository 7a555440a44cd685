use leptos::prelude::*;

use crate::api::Login;
use crate::islands::PasswordField;

/// `/login`. A plain form underneath: it works before and without WebAssembly.
/// The action is created inside the route: without JavaScript its error comes back in the
/// URL, which the router hands only to actions created below `<Routes>`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = move || login.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <section class="card narrow">
            <h1>"로그인"</h1>
            <ActionForm action=login attr:class="form" attr:novalidate=false>
                <label for="email">"이메일"</label>
                <input id="email" name="email" type="email" autocomplete="username" required autofocus/>
                <PasswordField/>
                <label for="code">"관리자 인증 코드"</label>
                <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="11" aria-describedby="code-help"/>
                <p id="code-help" class="help">"관리자만: 인증 앱의 6자리 코드 또는 복구 코드. 고객은 비워 두세요."</p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <button type="submit" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "로그인 중…" } else { "로그인" }}
                </button>
            </ActionForm>
        </section>
    }
}
