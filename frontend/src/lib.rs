//! The browser entry point: cargo-leptos builds this crate to WASM, and the
//! generated JS calls [`hydrate`] once the server-rendered page has loaded.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // `hydrate_body` returns once the page is interactive. The attribute gives
    // end-to-end tests (and curious people) one place to see that.
    if let Some(root) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
