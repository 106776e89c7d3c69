//! Keeps the tabs of this site in agreement about who is signed in, over a
//! `BroadcastChannel`. Cookies are shared by all tabs, so when one logs out
//! (or finds its session revoked) the others are signed out too: they should
//! say so at once rather than at their next request. No token ever goes
//! through the channel; the page has none.
//!
//! This module knows messages, not the auth context: the context hands it a
//! callback, so the dependency runs one way only.

use super::state::TabMessage;

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use web_sys::{BroadcastChannel, MessageEvent};

    use super::TabMessage;

    const CHANNEL_NAME: &str = "auth-demo:auth";

    thread_local! {
        /// One channel per tab, used both to send and to listen: a channel
        /// object does not hear its own messages, so the tab never reacts to
        /// its own news. `None` where the browser has no BroadcastChannel.
        static CHANNEL: Option<BroadcastChannel> = BroadcastChannel::new(CHANNEL_NAME).ok();
    }

    pub fn announce(message: &TabMessage) {
        CHANNEL.with(|channel| {
            if let Some(channel) = channel {
                let _ = channel.post_message(&JsValue::from_str(&message.to_json()));
            }
        });
    }

    pub fn listen(on_message: impl Fn(TabMessage) + 'static) {
        CHANNEL.with(|channel| {
            let Some(channel) = channel else { return };
            let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(message) = event
                    .data()
                    .as_string()
                    .as_deref()
                    .and_then(TabMessage::from_json)
                {
                    on_message(message);
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            // The app lives as long as the page, and so must the handler.
            on_message.forget();
        });
    }
}

#[cfg(feature = "hydrate")]
pub(super) use browser::{announce, listen};

#[cfg(not(feature = "hydrate"))]
pub(super) fn announce(_message: &TabMessage) {}

#[cfg(not(feature = "hydrate"))]
pub(super) fn listen(_on_message: impl Fn(TabMessage) + 'static) {}
