//! Pages tell the truth in their first HTML (contract "Pages"): the server
//! decides who the page is for before rendering, hands it to the app
//! (serialised into the page for hydration), and redirects where a page
//! would be wrong.

use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, COOKIE, LOCATION};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::json;
use server::config::Settings;

use crate::helpers::{Cookies, TestApp, assert_error, client, spawn_app, spawn_app_with};

/// The auth state the page was rendered with, as Leptos serialises it
/// for hydration (`__RESOLVED_RESOURCES[n] = "<JSON as a JS string>"`):
/// `SignedOut`, `Checking` or `SignedIn`. Text on the page ("Checking your
/// session…", a "Log in" link) is not evidence; the serialised state is what
/// the app starts from.
pub fn rendered_auth_state(html: &str) -> &'static str {
    let states: Vec<&'static str> = html
        .split("__RESOLVED_RESOURCES[")
        .skip(1)
        .filter_map(|rest| rest.split_once("] = \"")?.1.split_once("\";"))
        .map(|(value, _)| value.replace("\\\"", "\""))
        .filter_map(|json| match json.as_str() {
            "\"SignedOut\"" => Some("SignedOut"),
            "\"Checking\"" => Some("Checking"),
            _ if json.starts_with("{\"SignedIn\":") => Some("SignedIn"),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 1, "one serialised auth state in:\n{html}");
    states[0]
}

/// Access tokens that expire a second after they are issued, with no
/// leeway: a test sleeps past it to hold an expired, well-signed token.
pub fn expiring_in_a_second(settings: &mut Settings) {
    settings.access_token_ttl = Duration::from_secs(1);
    settings.token_leeway = Duration::ZERO;
}

/// A page request as the browser's own navigation sends it.
fn navigation(request: RequestBuilder) -> RequestBuilder {
    request
        .header("sec-fetch-mode", "navigate")
        .header(ACCEPT, "text/html,application/xhtml+xml")
}

async fn page_with(app: &TestApp, path: &str, access_token: Option<&str>) -> reqwest::Response {
    let mut request = navigation(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url(path)),
    );
    if let Some(token) = access_token {
        request = request.header(COOKIE, format!("access_token={token}"));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_strangers_page_renders_signed_out_and_sets_nothing() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = page_with(&app, "/", None).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert!(Cookies::from(&response).0.is_empty());
    let html = response.text().await.unwrap();
    assert_eq!(rendered_auth_state(&html), "SignedOut");
}

#[tokio::test]
async fn the_not_found_page_tells_the_truth_too() {
    // Arrange
    let app = spawn_app().await;
    let access = Cookies::from(
        &app.register("lost@example.com", crate::helpers::PASSWORD)
            .await,
    )
    .access()
    .value
    .clone();

    // Act
    let stranger = page_with(&app, "/no/such/page", None).await;
    let signed_in = page_with(&app, "/no/such/page", Some(&access)).await;

    // Assert
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        rendered_auth_state(&stranger.text().await.unwrap()),
        "SignedOut"
    );
    assert_eq!(signed_in.status(), StatusCode::NOT_FOUND);
    assert_eq!(signed_in.headers()[CACHE_CONTROL], "private, no-store");
    assert_eq!(
        rendered_auth_state(&signed_in.text().await.unwrap()),
        "SignedIn"
    );
}

#[tokio::test]
async fn a_strangers_protected_page_redirects_to_login_with_the_way_back() {
    let app = spawn_app().await;

    let response = page_with(&app, "/posts?page=2", None).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=/posts%3Fpage%3D2"
    );
}

#[tokio::test]
async fn a_signed_in_page_carries_its_data_and_is_never_stored() {
    // Arrange
    let app = spawn_app().await;
    let email = "pages@example.com";
    let access = Cookies::from(&app.register(email, crate::helpers::PASSWORD).await)
        .access()
        .value
        .clone();
    let published = app
        .post_json(
            "/api/posts",
            &json!({ "title": "First in the HTML", "body": "" }),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);

    for (path, expected) in [("/posts", "First in the HTML"), ("/account", email)] {
        // Act
        let response = page_with(&app, path, Some(&access)).await;

        // Assert
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "private, no-store",
            "{path}"
        );
        let html = response.text().await.unwrap();
        assert_eq!(rendered_auth_state(&html), "SignedIn", "{path}");
        assert!(html.contains(expected), "{path} lacks {expected}");
    }
}

#[tokio::test]
async fn the_account_page_lists_the_sessions_in_its_first_html() {
    let app = spawn_app().await;
    let access = app.signed_in_user().await.access().value.clone();
    let sessions: serde_json::Value = app.get("/auth/sessions").await.json().await.unwrap();
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();

    let html = page_with(&app, "/account", Some(&access))
        .await
        .text()
        .await
        .unwrap();

    assert!(html.contains(&id), "the session id is in the page");
}

#[tokio::test]
async fn a_malformed_access_cookie_renders_signed_out_and_clears_the_cookies() {
    let app = spawn_app().await;

    let response = page_with(&app, "/", Some("not.a.token")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookies = Cookies::from(&response);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
    assert_eq!(
        rendered_auth_state(&response.text().await.unwrap()),
        "SignedOut"
    );
}

#[tokio::test]
async fn a_revoked_session_renders_signed_out_at_once_and_clears_the_cookies() {
    // Arrange: this device's session is ended from another one.
    let app = spawn_app().await;
    let email = "revoked@example.com";
    let access = Cookies::from(&app.register(email, crate::helpers::PASSWORD).await)
        .access()
        .value
        .clone();
    let other = app
        .device(email, crate::helpers::PASSWORD, "other device")
        .await;
    let ended = other
        .post(app.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);

    // Act
    let home = page_with(&app, "/", Some(&access)).await;
    let posts = page_with(&app, "/posts", Some(&access)).await;

    // Assert
    assert_eq!(home.status(), StatusCode::OK);
    let cookies = Cookies::from(&home);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
    assert_eq!(
        rendered_auth_state(&home.text().await.unwrap()),
        "SignedOut"
    );
    assert_eq!(posts.status(), StatusCode::SEE_OTHER);
    assert_eq!(posts.headers()[LOCATION], "/login?next=/posts");
    assert!(Cookies::from(&posts).access().is_cleared());
}

#[tokio::test]
async fn an_expired_token_on_a_navigation_goes_through_the_navigation_refresh() {
    // Arrange
    let app = spawn_app_with(expiring_in_a_second).await;
    let access = app.signed_in_user().await.access().value.clone();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let no_redirects = client();

    // Act: a navigation by Sec-Fetch-Mode, and one by Accept alone.
    let by_mode = no_redirects
        .get(app.url("/posts?page=2"))
        .header(COOKIE, format!("access_token={access}"))
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    let by_accept = no_redirects
        .get(app.url("/"))
        .header(COOKIE, format!("access_token={access}"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(by_mode.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        by_mode.headers()[LOCATION],
        "/auth/refresh?next=/posts%3Fpage%3D2"
    );
    assert_eq!(by_accept.status(), StatusCode::SEE_OTHER);
    assert_eq!(by_accept.headers()[LOCATION], "/auth/refresh");
}

#[tokio::test]
async fn an_expired_token_on_a_fetch_or_a_prefetch_renders_checking() {
    // Arrange
    let app = spawn_app_with(expiring_in_a_second).await;
    let access = app.signed_in_user().await.access().value.clone();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    for (mode, purpose) in [("cors", None), ("navigate", Some("prefetch")), ("", None)] {
        // Act
        let mut request = client()
            .get(app.url("/"))
            .header(COOKIE, format!("access_token={access}"));
        if !mode.is_empty() {
            request = request.header("sec-fetch-mode", mode);
        }
        if let Some(purpose) = purpose {
            request = request.header("sec-purpose", purpose);
        }
        let response = request.send().await.unwrap();

        // Assert
        assert_eq!(response.status(), StatusCode::OK, "{mode} {purpose:?}");
        assert!(Cookies::from(&response).0.is_empty(), "left to the client");
        let html = response.text().await.unwrap();
        assert_eq!(rendered_auth_state(&html), "Checking", "{mode} {purpose:?}");
    }
}

#[tokio::test]
async fn a_returning_visitor_with_an_expired_token_comes_back_signed_in_with_their_posts() {
    // Arrange: a browser that keeps cookies, whose access token has expired.
    let app = spawn_app_with(expiring_in_a_second).await;
    app.signed_in_user().await;
    let published = app
        .post_json("/api/posts", &json!({ "title": "Still mine", "body": "" }))
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Act: follow the redirects by hand, as the browser would.
    let first = navigation(app.client.get(app.url("/posts")))
        .send()
        .await
        .unwrap();
    let refresh_at = first.headers()[LOCATION].to_str().unwrap().to_owned();
    let refresh = navigation(app.client.get(app.url(&refresh_at)))
        .send()
        .await
        .unwrap();
    let back_to = refresh.headers()[LOCATION].to_str().unwrap().to_owned();
    let cookies = Cookies::from(&refresh);
    let last = navigation(app.client.get(app.url(&back_to)))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(refresh_at, "/auth/refresh?next=/posts");
    assert_eq!(refresh.status(), StatusCode::SEE_OTHER);
    assert_eq!(refresh.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(back_to, "/posts");
    assert!(!cookies.access().value.is_empty() && !cookies.refresh().value.is_empty());
    assert_eq!(last.status(), StatusCode::OK);
    let html = last.text().await.unwrap();
    assert_eq!(rendered_auth_state(&html), "SignedIn");
    assert!(html.contains("Still mine"));
}

#[tokio::test]
async fn a_refused_navigation_refresh_clears_the_cookies_and_still_goes_to_next() {
    let app = spawn_app().await;

    let response = client()
        .get(app.url("/auth/refresh?next=/posts"))
        .header(COOKIE, "refresh_token=unknown")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/posts");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let cookies = Cookies::from(&response);
    assert!(cookies.access().is_cleared() && cookies.refresh().is_cleared());
}

#[tokio::test]
async fn the_navigation_refresh_only_ever_sends_the_browser_to_a_local_path() {
    // Arrange
    let app = spawn_app().await;
    let decoded_values = [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%255Cevil.example",
        "evil.example",
        "",
    ];
    let raw_queries = ["next=%2F%2Fevil.example", "next=/%5Cevil.example", "next"];

    for next in decoded_values {
        // Act
        let response = client()
            .get(app.url("/auth/refresh"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(response.headers()[LOCATION], "/", "{next:?}");
    }
    for query in raw_queries {
        let response = client()
            .get(app.url(&format!("/auth/refresh?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[LOCATION], "/", "{query}");
    }
    let local = client()
        .get(app.url("/auth/refresh"))
        .query(&[("next", "/posts?page=2")])
        .send()
        .await
        .unwrap();
    assert_eq!(local.headers()[LOCATION], "/posts?page=2");
}

#[tokio::test]
async fn the_navigation_refresh_sets_the_same_cookies_as_the_post() {
    let app = spawn_app().await;
    app.signed_in_user().await;

    let response = app.get("/auth/refresh?next=/account").await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/account");
    let cookies = Cookies::from(&response);
    assert!(!cookies.access().value.is_empty());
    assert_eq!(cookies.refresh().attribute("Path"), Some("/auth"));
    assert_eq!(app.get("/auth/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_session_is_refused_by_me_and_the_account_at_once() {
    // Arrange
    let app = spawn_app().await;
    let email = "me-live@example.com";
    app.register(email, crate::helpers::PASSWORD).await;
    let other = app
        .device(email, crate::helpers::PASSWORD, "other device")
        .await;
    other
        .post(app.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();

    // Act
    let me = app.get("/auth/me").await;
    let sessions = app.get("/auth/sessions").await;

    // Assert
    assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_error(sessions, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn every_api_answer_says_no_store() {
    let app = spawn_app().await;

    let anonymous = app.get("/api/posts").await;
    app.signed_in_user().await;
    let signed_in = app.get("/api/posts").await;
    let unknown = app.get("/api/nothing").await;

    for response in [anonymous, signed_in, unknown] {
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "no-store",
            "{}",
            response.status()
        );
    }
}
