use leptos::prelude::*;

/// The public landing page. Its counter only counts once the WASM has
/// hydrated the page, which makes it the end-to-end test's proof of hydration.
#[component]
pub fn HomePage() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects never run during server rendering, only in the browser.
    Effect::new(move |_| hydrated.set(true));
    let count = RwSignal::new(0u32);

    view! {
        <h1>"Browser authentication, done right"</h1>
        <p>
            "A short-lived access token and a rotating refresh token, both in HttpOnly cookies: "
            "the page never sees a token, and a stolen refresh token is caught the moment it is reused."
        </p>
        <p class="status" data-testid="hydration-status">
            {move || {
                if hydrated.get() {
                    "Interactive: the WebAssembly app has taken over this page."
                } else {
                    "Server-rendered: waiting for the WebAssembly app…"
                }
            }}
        </p>
        <button on:click=move |_| count.update(|n| *n += 1)>
            {move || match count.get() {
                1 => "Clicked 1 time".to_owned(),
                n => format!("Clicked {n} times"),
            }}
        </button>
    }
}
