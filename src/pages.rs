//! Pages, one module each. They render on the server and hydrate in the browser.

pub mod admin;
pub mod admins;
pub mod integration;
pub mod login;
pub mod not_found;
pub mod order;
pub mod orders;
pub mod settings;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::error::AppError;

/// What a page shows when its data could not be loaded: sign-in for visitors, the 404 page
/// for what does not exist (or is not theirs), otherwise the error's sentence.
pub fn load_error(e: AppError) -> AnyView {
    match e {
        AppError::NotSignedIn => view! { <Redirect path="/login"/> }.into_any(),
        AppError::NotFound => view! { <not_found::NotFound/> }.into_any(),
        e => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
    }
}
