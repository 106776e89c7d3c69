use leptos::prelude::*;

/// The neutral state shown while the browser refreshes an expired access
/// token: neither the signed-in page nor the signed-out one, so nobody sees
/// a login form flash up only to vanish.
#[component]
pub fn CheckingSession() -> impl IntoView {
    view! { <p class="muted" role="status">"Checking your session…"</p> }
}
