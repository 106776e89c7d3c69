//! What the server knew when it rendered this page (the page's data, a
//! refused form), handed to the components that show it. The same values are
//! serialised into the page, so hydration starts from exactly what the first
//! HTML shows.
//!
//! Each piece is handed out once. The component that shows it on the first
//! render takes it; a later visit to the same page within the app (a
//! client-side navigation) loads its data through the API, and shows no
//! stale refusal.

use std::future::Future;

use leptos::prelude::*;

use crate::api::ClientError;
use crate::model::{Post, SessionInfo};
use crate::server_context::{FormName, FormRefusal, PagePreload};

/// Provided once at the root of the app.
#[derive(Clone, Copy)]
struct FirstRender {
    preload: StoredValue<PagePreload>,
    refusal: StoredValue<Option<FormRefusal>>,
}

/// Reads what the server provided for this request (nothing, in the
/// browser: there the serialised copy is used).
pub fn provide_first_render() {
    let (preload, refusal) = SharedValue::new(|| {
        (
            use_context::<PagePreload>().unwrap_or_default(),
            use_context::<FormRefusal>(),
        )
    })
    .into_inner();
    provide_context(FirstRender {
        preload: StoredValue::new(preload),
        refusal: StoredValue::new(refusal),
    });
}

/// The posts the server read for this page, if it did and nobody took them.
pub fn take_preloaded_posts() -> Option<Vec<Post>> {
    take_preload(|preload| preload.posts.take())
}

/// The sessions the server read for this page, if it did and nobody took them.
pub fn take_preloaded_sessions() -> Option<Vec<SessionInfo>> {
    take_preload(|preload| preload.sessions.take())
}

fn take_preload<T>(take: impl FnOnce(&mut PagePreload) -> Option<T>) -> Option<T> {
    use_context::<FirstRender>()?
        .preload
        .try_update_value(take)
        .flatten()
}

/// The server's refusal of `form`, if this page was rendered again because
/// of it (a form posted without JavaScript).
pub fn take_refusal(form: FormName) -> Option<FormRefusal> {
    use_context::<FirstRender>()?
        .refusal
        .try_update_value(|refusal| {
            if refusal.as_ref().is_some_and(|refusal| refusal.form == form) {
                refusal.take()
            } else {
                None
            }
        })
        .flatten()
}

/// What the person had typed into `field` of a refused form, to show it
/// again (never a password: the server does not send those back).
pub fn refilled(refusal: Option<&FormRefusal>, field: &str) -> String {
    refusal
        .and_then(|refusal| refusal.values.get(field).cloned())
        .unwrap_or_default()
}

/// Data a page shows: what the server preloaded into the first HTML, or,
/// when there is none (a client-side navigation), loaded through the API in
/// the browser. [`PageData::reload`] after every change, so that the page
/// shows the server's truth rather than its own guess.
pub struct PageData<T: Send + Sync + 'static, F> {
    value: RwSignal<Option<Result<T, ClientError>>>,
    /// Numbers the loads, so that only the latest one's answer is shown.
    // Loads happen in the browser only.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    latest: StoredValue<u64>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    load: F,
}

impl<T: Send + Sync + 'static, F: Copy> Clone for PageData<T, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static, F: Copy> Copy for PageData<T, F> {}

impl<T, F, Fut> PageData<T, F>
where
    T: Clone + Send + Sync + 'static,
    F: Fn() -> Fut + Copy + 'static,
    Fut: Future<Output = Result<T, ClientError>> + 'static,
{
    /// `None` until loaded when there is no `preloaded` value. The server
    /// never loads anything itself: what it did not preload, the browser
    /// loads once the app runs.
    pub fn new(preloaded: Option<T>, load: F) -> Self {
        let data = Self {
            value: RwSignal::new(preloaded.map(Ok)),
            latest: StoredValue::new(0),
            load,
        };
        if data.value.with_untracked(Option::is_none) {
            data.reload();
        }
        data
    }

    /// `None` while the first load is on its way.
    pub fn get(&self) -> Option<Result<T, ClientError>> {
        self.value.get()
    }

    /// Loads again through the API (in the browser only).
    pub fn reload(&self) {
        #[cfg(feature = "hydrate")]
        {
            let Some(ticket) = self.latest.try_update_value(|latest| {
                *latest += 1;
                *latest
            }) else {
                return;
            };
            let (value, latest, load) = (self.value, self.latest, self.load);
            leptos::task::spawn_local(async move {
                let loaded = load().await;
                // A page left, or a newer load started, in the meantime.
                if latest.try_get_value() == Some(ticket) {
                    value.try_set(Some(loaded));
                }
            });
        }
    }
}
