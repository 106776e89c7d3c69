use leptos::prelude::*;
use leptos_meta::Title;

use crate::auth::use_auth;

/// Who you are, as the server told this page. Protected, so someone is
/// signed in; the sessions list and password change come later.
#[component]
pub fn AccountPage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        {move || {
            auth.state
                .get()
                .user()
                .map(|user| {
                    view! {
                        <dl class="card">
                            <dt>"Email"</dt>
                            <dd>{user.email.clone()}</dd>
                            <dt>"Member since"</dt>
                            <dd>{user.created_at.format("%-d %B %Y").to_string()}</dd>
                        </dl>
                    }
                })
        }}
    }
}
