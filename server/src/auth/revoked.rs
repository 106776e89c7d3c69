//! The sessions revoked recently enough that an access token of theirs may
//! still be unexpired, kept in memory so that `/api`, which checks the token
//! alone, refuses them without a database read.
//!
//! An entry lives until the last access token its session could have been
//! given has expired (revocation time + access token lifetime + leeway);
//! after that the token's own `exp` refuses it. So the set holds no more
//! than the sessions revoked within one access token lifetime (and the
//! second after it: forgetting is a pass over the whole set, done by an
//! insert at most once a second, since with several instances every one of
//! them inserts every revocation of all of them).

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
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Each session id, with the time after which it can be forgotten.
    until: HashMap<Uuid, DateTime<Utc>>,
    /// When expired entries were last forgotten.
    pruned_at: Option<DateTime<Utc>>,
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

    /// Remembers sessions revoked at `revoked_at`.
    pub fn insert(&self, ids: impl IntoIterator<Item = Uuid>, revoked_at: DateTime<Utc>) {
        self.insert_each(ids.into_iter().map(|id| (id, revoked_at)));
    }

    /// Remembers sessions, each revoked at its own time.
    pub fn insert_each(&self, revocations: impl IntoIterator<Item = (Uuid, DateTime<Utc>)>) {
        self.insert_each_at(revocations, Utc::now());
    }

    /// Remembers sessions and, if a second has passed since it last did,
    /// forgets those whose tokens have all expired by `now` (so the map
    /// stays bounded without a task of its own).
    fn insert_each_at(
        &self,
        revocations: impl IntoIterator<Item = (Uuid, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) {
        let mut entries = self.lock();
        if entries
            .pruned_at
            .is_none_or(|at| now - at >= chrono::Duration::seconds(1))
        {
            entries.until.retain(|_, until| *until > now);
            entries.pruned_at = Some(now);
        }
        for (id, revoked_at) in revocations {
            let forget_after = revoked_at + self.remember_for;
            let until = entries.until.entry(id).or_insert(forget_after);
            *until = (*until).max(forget_after);
        }
    }

    /// Whether an access token of this session must be refused.
    pub fn contains(&self, session_id: Uuid) -> bool {
        self.lock().until.contains_key(&session_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
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
        revoked.insert_each_at(
            [(recent, now), (old, now - chrono::Duration::seconds(906))],
            now,
        );
        assert!(revoked.contains(recent));
        assert!(!revoked.contains(other));
        // Its tokens have all expired: an insert a second later forgets it,
        // one within that second does not look.
        revoked.insert_each_at([], now + chrono::Duration::milliseconds(999));
        assert!(revoked.contains(old));
        revoked.insert_each_at([], now + chrono::Duration::seconds(1));
        assert!(!revoked.contains(old));
        assert_eq!(revoked.lock().until.len(), 1);
    }
}
