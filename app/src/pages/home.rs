use leptos::prelude::*;
use leptos_router::components::A;

/// The public landing page: what this is and what a visitor can do here.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <h1>"Browser authentication, done right"</h1>
        <p class="lead">
            "A small site that shows a careful cookie-based login at work: a short-lived access "
            "token and a rotating refresh token, both in HttpOnly cookies. No script on the page "
            "ever sees a token, and a stolen refresh token is caught the moment it is used twice."
        </p>
        <h2>"What you can do here"</h2>
        <ul class="features">
            <li>
                <A href="/register">"Create an account"</A>
                " with an email address and a password, or "
                <A href="/login">"log in"</A>
                " to one you have."
            </li>
            <li>
                "Write short "
                <A href="/posts">"posts"</A>
                " that only you can read: the protected resource behind the login."
            </li>
            <li>
                "See on your "
                <A href="/account">"account"</A>
                " page every device you are signed in on, end any of those sessions, log out "
                "everywhere at once, or change your password."
            </li>
            <li>
                "Leave a tab open for a while: when you come back, the site renews your session "
                "without asking, and every tab signs out together when you log out in one."
            </li>
        </ul>
        <p class="muted">
            "Every form works before the page's WebAssembly has loaded, and without JavaScript."
        </p>
    }
}
