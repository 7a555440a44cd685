//! 관리자 (`/admin/admins`): every admin, invitations (a one-time link shown once) and
//! revocation; and the invitation page (`/admin/invite?token=…`) where a new admin sets a
//! password and enrolls an authenticator. Plain forms.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::shop::{admins, invitation, AcceptInvitation, InviteAdmin, RevokeAdmin};
use crate::islands::PasswordField;
use crate::model::format_kst;
use crate::model::shop::AdminsView;
use crate::pages::load_error;

#[component]
pub fn AdminsPage() -> impl IntoView {
    let invite = ServerAction::<InviteAdmin>::new();
    let revoke = ServerAction::<RevokeAdmin>::new();
    let data =
        Resource::new(move || (invite.version().get(), revoke.version().get()), |_| admins());
    view! {
        <section class="card">
            <h1>"관리자"</h1>
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => view! { <Admins v invite revoke/> }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Admins(
    v: AdminsView,
    invite: ServerAction<InviteAdmin>,
    revoke: ServerAction<RevokeAdmin>,
) -> impl IntoView {
    let error = move || {
        invite
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| revoke.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    let me = v.me;
    view! {
        {(!v.recovery_codes.is_empty()).then(|| view! {
            <div class="notice" role="status" data-testid="recovery-codes">
                <p><strong>"복구 코드입니다. 인증 앱을 잃었을 때 한 번씩 쓸 수 있습니다. 지금 안전한 곳에 적어 두세요 — 다시 보여 드리지 않습니다."</strong></p>
                <ul class="codes">{v.recovery_codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
            </div>
        })}
        {v.new_invite_link.map(|link| view! {
            <div class="notice" role="status">
                <p><strong>"초대 링크입니다 (24시간, 한 번). 초대받는 분께 전해 주세요 — 다시 보여 드리지 않습니다."</strong></p>
                <p><a href=link.clone() data-testid="invite-link">{link.clone()}</a></p>
            </div>
        })}
        <ActionForm action=invite attr:class="form inline-form">
            <label for="invite-email">"초대할 이메일"</label>
            <input id="invite-email" name="email" type="email" required/>
            <button type="submit" class="primary" disabled=move || invite.pending().get()>"초대 링크 만들기"</button>
        </ActionForm>
        {error}
        <table class="table">
            <thead><tr><th>"이름"</th><th>"이메일"</th><th>"인증 앱"</th><th>"등록"</th><th>"상태"</th></tr></thead>
            <tbody>
                {v.admins.into_iter().map(|a| view! {
                    <tr>
                        <td>{a.display_name.clone()}{(a.id == me).then_some(" (나)")}</td>
                        <td>{a.email.clone()}</td>
                        <td>{if a.totp { "등록됨" } else { "없음" }}</td>
                        <td>{format_kst(a.created_at)}</td>
                        <td>{match a.revoked_at {
                            Some(at) => view! { <span class="badge badge-closed">{format!("해제됨 {}", format_kst(at))}</span> }.into_any(),
                            None => view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="id" value=a.id.to_string()/>
                                    <button type="submit" aria-label=format!("{} 관리자 해제", a.display_name)>"해제"</button>
                                </ActionForm>
                            }.into_any(),
                        }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"대기 중인 초대"</h2>
        {if v.invites.is_empty() {
            view! { <p>"대기 중인 초대가 없습니다."</p> }.into_any()
        } else {
            view! {
                <ul class="events">
                    {v.invites.into_iter().map(|i| view! {
                        <li>{i.email} " · " {format!("{}까지", format_kst(i.expires_at))}</li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

/// `/admin/invite?token=…`: set a password, scan the QR code (or type the secret), prove it
/// with the code the app shows. Success signs the new admin in and shows the recovery codes.
#[component]
pub fn InvitePage() -> impl IntoView {
    let token = move || use_query_map().read().get("token").unwrap_or_default();
    let accept = ServerAction::<AcceptInvitation>::new();
    let data = Resource::new(token, invitation);
    let error = move || accept.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <section class="card narrow">
            <h1>"관리자 등록"</h1>
            <Suspense fallback=|| view! { <p>"불러오는 중…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => view! {
                            <p>{v.email.clone()} " 님을 관리자로 초대했습니다."</p>
                            <ActionForm action=accept attr:class="form">
                                <input type="hidden" name="token" value=token()/>
                                <label for="admin-name">"이름"</label>
                                <input id="admin-name" name="name" type="text" maxlength="100" required autocomplete="name"/>
                                <PasswordField/>
                                <p class="help">"비밀번호는 12자 이상입니다."</p>
                                <h2>"인증 앱 등록"</h2>
                                <p>"인증 앱(Google Authenticator, Microsoft Authenticator 등)으로 QR 코드를 찍거나, 아래 키를 직접 입력하세요."</p>
                                <div class="qr" role="img" aria-label="인증 앱 등록 QR 코드" inner_html=v.qr_svg.clone()></div>
                                <p>"키: " <code data-testid="totp-secret">{v.totp_secret.clone()}</code></p>
                                <label for="totp-code">"인증 앱의 6자리 코드"</label>
                                <input id="totp-code" name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" required autocomplete="one-time-code"/>
                                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                                <button type="submit" class="primary" disabled=move || accept.pending().get()>"등록"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Suspense>
        </section>
    }
}
