//! The sessions revoked recently enough that an access token of theirs may
//! still be unexpired, kept in memory so that `/api`, which checks the token
//! alone, refuses them without a database read.
//!
//! An entry lives until the last access token its session could have been
//! given has expired (revocation time + access token lifetime + leeway);
//! after that the token's own `exp` refuses it. So the set holds no more
//! than the sessions revoked within one access token lifetime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Revoked session ids, each with the time after which it need not be
/// remembered. Shared by every request of this process.
#[derive(Debug)]
pub struct RevokedSessions {
    /// How long after its revocation a session's access token may still be
    /// accepted by its `exp`: the token lifetime plus the leeway.
    remember_for: chrono::Duration,
    entries: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl RevokedSessions {
    pub fn new(access_ttl: Duration, leeway: Duration) -> Self {
        Self {
            remember_for: chrono::Duration::from_std(access_ttl + leeway)
                .unwrap_or(chrono::Duration::MAX),
            entries: Mutex::default(),
        }
    }

    /// How far back revocations matter: those older than this have no
    /// access token left that its `exp` would accept.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.remember_for
    }

    /// Remembers sessions revoked at `revoked_at`, and forgets those whose
    /// tokens have all expired (so the map stays bounded without a task).
    pub fn insert(&self, ids: impl IntoIterator<Item = Uuid>, revoked_at: DateTime<Utc>) {
        let forget_after = revoked_at + self.remember_for;
        let now = Utc::now();
        let mut entries = self.lock();
        entries.retain(|_, until| *until > now);
        for id in ids {
            let until = entries.entry(id).or_insert(forget_after);
            *until = (*until).max(forget_after);
        }
    }

    /// Whether an access token of this session must be refused.
    pub fn contains(&self, session_id: Uuid) -> bool {
        self.lock().contains_key(&session_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, DateTime<Utc>>> {
        // Nothing can panic while the lock is held, so a poisoned lock still
        // holds a whole map.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_session_is_remembered_until_its_tokens_have_expired() {
        let revoked = RevokedSessions::new(Duration::from_secs(900), Duration::from_secs(5));
        let now = Utc::now();
        let (recent, old, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        revoked.insert([recent], now);
        revoked.insert([old], now - chrono::Duration::seconds(906));
        assert!(revoked.contains(recent));
        assert!(!revoked.contains(other));
        // Its tokens have all expired: the next insert forgets it.
        revoked.insert([], now);
        assert!(!revoked.contains(old));
        assert_eq!(revoked.lock().len(), 1);
    }
}
