use crate::helpers::{spawn_app, spawn_app_with};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let responses = [
        app.get("/healthz").await,
        app.get("/auth/me").await,
        app.get("/api/posts").await,
        app.get("/auth/nope").await,
        app.client.get(app.url("/auth/login")).send().await.unwrap(),
        app.get("/").await,
        app.get("/no/such/page").await,
        app.get("/pkg/missing.wasm").await,
    ];
    for response in &responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(header(response, name), Some(value), "{}", response.url());
        }
        assert!(
            header(response, "content-security-policy")
                .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
            "{}",
            response.url()
        );
        assert_eq!(header(response, "strict-transport-security"), None);
    }
}

#[tokio::test]
async fn json_responses_get_a_policy_that_allows_nothing() {
    let app = spawn_app().await;

    let response = app.get("/auth/me").await;

    assert_eq!(
        header(&response, "content-security-policy"),
        Some("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn with_secure_cookies_every_response_asks_for_https_only() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;

    for path in ["/healthz", "/", "/auth/me"] {
        let response = app.get(path).await;
        assert_eq!(
            header(&response, "strict-transport-security"),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
    }
}

/// The nonce of a page's CSP, checked to be on every script of the page.
async fn page_nonce(app: &crate::helpers::TestApp, path: &str) -> String {
    let response = app.get(path).await;
    let csp = header(&response, "content-security-policy")
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let nonce = csp
        .split(';')
        .map(str::trim)
        .find_map(|directive| directive.strip_prefix("script-src "))
        .and_then(|sources| {
            sources
                .split(' ')
                .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        })
        .unwrap_or_else(|| panic!("no script nonce in {csp}"))
        .to_owned();
    for directive in [
        "default-src 'none'",
        "'wasm-unsafe-eval'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "{path}: the page has its hydration script");
    assert_eq!(
        html.matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
            .count()
            + html.matches(&format!("<script nonce=\"{nonce}\"")).count(),
        scripts,
        "{path}: every script carries the nonce: {html}"
    );
    nonce
}

#[tokio::test]
async fn pages_get_a_policy_whose_nonce_is_on_each_of_their_scripts_and_new_each_time() {
    let app = spawn_app().await;
    app.signed_in_user().await;

    let home = page_nonce(&app, "/").await;
    let again = page_nonce(&app, "/").await;
    let account = page_nonce(&app, "/account").await;
    let missing = page_nonce(&app, "/no/such/page").await;

    assert!(home.len() >= 22, "128 bits: {home}");
    assert_ne!(home, again);
    assert_ne!(account, missing);
}
