use leptos::prelude::*;

use super::{ApiForm, format_time};
use crate::api::{ClientError, use_api};
use crate::model::{ErrorCode, Id, SessionInfo};
use crate::server_context::FormRefusal;

/// The person's sessions, one per login on one device: this one first and
/// marked, each other with a form that ends it (`POST
/// /account/sessions/revoke` without JavaScript, `DELETE /auth/sessions/{id}`
/// with it).
#[component]
pub fn SessionList(
    /// Newest first, as `GET /auth/sessions` answers.
    sessions: Vec<SessionInfo>,
    /// Called after a session was ended, to show the server's list again.
    on_revoked: Callback<()>,
    /// The server's refusal to end one of them, when this page was rendered
    /// again because of it.
    refused: Option<FormRefusal>,
) -> impl IntoView {
    let refused_id = refused
        .as_ref()
        .and_then(|refusal| refusal.values.get("id"))
        .and_then(|id| id.parse::<Id>().ok());
    let listed = refused_id
        .as_ref()
        .is_some_and(|id| sessions.iter().any(|session| session.id == *id));
    let refused_here = refused.clone().filter(|_| listed);
    // A refusal about a session no longer listed is shown above the list.
    let refused_elsewhere = refused.filter(|_| !listed);
    view! {
        {refused_elsewhere
            .map(|refusal| view! { <p role="alert" class="error">{refusal.error.message}</p> })}
        <ul class="sessions" aria-label="Your sessions">
            {this_device_first(sessions)
                .into_iter()
                .map(|session| {
                    let refused = refused_here
                        .clone()
                        .filter(|_| refused_id.as_ref() == Some(&session.id));
                    view! { <SessionItem session on_revoked refused/> }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
fn SessionItem(
    session: SessionInfo,
    on_revoked: Callback<()>,
    refused: Option<FormRefusal>,
) -> impl IntoView {
    let api = use_api();
    let id = Id::clone(&session.id);
    let revoke = Action::new_local(move |_: &()| {
        let id = Id::clone(&id);
        async move {
            let answer = match api.revoke_session(id).await {
                // Gone already (it expired, or another device ended it): what
                // the person asked for is true, and the list was stale.
                Err(ClientError::Api(error)) if error.error == ErrorCode::NotFound => Ok(()),
                answer => answer,
            };
            if answer.is_ok() {
                on_revoked.run(());
            }
            answer
        }
    });
    let pending = revoke.pending();
    let device = summarise_user_agent(session.user_agent.as_deref());
    let created = format_time(&session.created_at);
    let revoke_label = format!("Revoke session from {device} created {created}");
    view! {
        <li class="card session">
            <p class="session-device">
                <span title=session.user_agent.clone().unwrap_or_default()>{device}</span>
                {session.current.then(|| view! { <span class="badge">"This device"</span> })}
            </p>
            <dl class="session-times">
                <dt>"Created"</dt>
                <dd>{created}</dd>
                <dt>"Last used"</dt>
                <dd>{format_time(&session.last_used_at)}</dd>
                <dt>"Expires"</dt>
                <dd>{format_time(&session.expires_at)}</dd>
            </dl>
            {(!session.current)
                .then(|| {
                    view! {
                        <ApiForm
                            address="/account/sessions/revoke"
                            action=revoke
                            check=|_| Ok(())
                            refused=refused.clone()
                            class="inline"
                        >
                            <input type="hidden" name="id" value=session.id.to_string()/>
                            <button
                                type="submit"
                                class="secondary"
                                aria-label=revoke_label.clone()
                                disabled=move || pending.get()
                            >
                                "Revoke"
                            </button>
                        </ApiForm>
                    }
                })}
        </li>
    }
}

/// This device's session first (it is the one the person looks for), then
/// the others in the server's order, which is newest first. Stable, and
/// without comparing times: in the browser they are the wire's strings.
pub fn this_device_first(mut sessions: Vec<SessionInfo>) -> Vec<SessionInfo> {
    sessions.sort_by_key(|session| !session.current);
    sessions
}

/// "Firefox on Linux" from a `User-Agent` header: enough to recognise one's
/// own devices, without the version soup. Unknown parts are left out rather
/// than guessed.
pub fn summarise_user_agent(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or_default();
    match (browser(agent), platform(agent)) {
        (Some(browser), Some(platform)) => format!("{browser} on {platform}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(platform)) => format!("A browser on {platform}"),
        (None, None) => "Unknown device".to_owned(),
    }
}

/// Order matters: Edge and Opera also say "Chrome", Chrome also says
/// "Safari", and iOS browsers carry their own marks beside Safari's.
fn browser(agent: &str) -> Option<&'static str> {
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
    ];
    BROWSERS
        .iter()
        .find(|(mark, _)| agent.contains(mark))
        .map(|(_, name)| *name)
        .or_else(|| (agent.contains("Safari/") && agent.contains("Version/")).then_some("Safari"))
}

/// iOS and Android before macOS and Linux: their agents say "like Mac OS X"
/// and "Linux" too.
fn platform(agent: &str) -> Option<&'static str> {
    const PLATFORMS: &[(&str, &str)] = &[
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    PLATFORMS
        .iter()
        .find(|(mark, _)| agent.contains(mark))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1";
    const CHROME_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86";
    const HEADLESS_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";

    /// Written as the wire has them, so the same test reads on both sides.
    // `Timestamp` is a `String` in the browser build and `Copy` on the server.
    #[allow(clippy::clone_on_copy)]
    fn session(id: u8, current: bool, created_at: &str) -> SessionInfo {
        let time = || created_at.parse::<Timestamp>().unwrap();
        SessionInfo {
            id: format!("00000000-0000-0000-0000-0000000000{id:02}")
                .parse()
                .unwrap(),
            created_at: time(),
            last_used_at: time(),
            expires_at: time(),
            user_agent: None,
            current,
        }
    }

    #[test]
    fn common_browsers_are_named_with_their_platform() {
        for (agent, expected) in [
            (CHROME_WINDOWS, "Chrome on Windows"),
            (FIREFOX_LINUX, "Firefox on Linux"),
            (SAFARI_MAC, "Safari on macOS"),
            (SAFARI_IPHONE, "Safari on iOS"),
            (CHROME_IPHONE, "Chrome on iOS"),
            (CHROME_ANDROID, "Chrome on Android"),
            (EDGE_WINDOWS, "Edge on Windows"),
            (HEADLESS_LINUX, "Chrome on Linux"),
        ] {
            assert_eq!(summarise_user_agent(Some(agent)), expected, "{agent}");
        }
    }

    #[test]
    fn what_cannot_be_recognised_is_not_guessed() {
        assert_eq!(summarise_user_agent(None), "Unknown device");
        assert_eq!(summarise_user_agent(Some("")), "Unknown device");
        assert_eq!(summarise_user_agent(Some("curl/8.5.0")), "Unknown device");
        assert_eq!(
            summarise_user_agent(Some("SomeApp/1.0 (Linux)")),
            "A browser on Linux"
        );
    }

    #[test]
    fn this_device_comes_first_then_the_others_newest_first() {
        // Newest first, as the server sends them.
        let ordered = this_device_first(vec![
            session(1, false, "2026-11-23T09:00:30Z"),
            session(2, true, "2026-11-23T09:00:20Z"),
            session(3, false, "2026-11-23T09:00:10Z"),
        ]);
        let ids: Vec<_> = ordered.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(
            ids,
            ["02", "01", "03"].map(|n| format!("00000000-0000-0000-0000-0000000000{n}"))
        );
    }
}
