//! Password hashing with argon2id at OWASP's parameters. Hashing is CPU-bound
//! (tens of milliseconds), so it runs on the blocking pool, and a semaphore
//! keeps a burst of logins from occupying every thread at once. The queue
//! for its permits is bounded: past it, a request is answered `503
//! server_busy` at once instead of waiting behind a flood.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use app::domain::Password;
use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// OWASP's first argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// argon2's default output length, the one every stored hash has.
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

/// Requests that may wait for a hashing permit, per permit: at tens of
/// milliseconds a hash, the last in the queue waits well under a second.
const MAX_WAITING_PER_PERMIT: usize = 16;

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit now, and how many may.
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// One argon2 working memory (19 MiB) per permit, reused from hash to
    /// hash. Allocating it afresh for each hash made glibc serve it from
    /// per-thread arenas that fragmented and stayed resident (hundreds of
    /// MiB under a login burst), and faulting in fresh pages costs time.
    memory: Arc<MemoryPool>,
    /// A hash of a random password made with our parameters at start. Logins
    /// for unknown emails verify against it, so they take as long as logins
    /// with a wrong password and do not reveal which accounts exist.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// Allows as many hashes at once as there are cores.
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let memory = Arc::new(MemoryPool::new(params()?.block_count()));
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
        let dummy_hash = hash_blocking(&URL_SAFE_NO_PAD.encode(random), &mut memory.take())?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: cores * MAX_WAITING_PER_PERMIT,
            memory,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) for storing.
    pub async fn hash(&self, password: Password) -> crate::error::Result<String> {
        Ok(self
            .run(move |memory| hash_blocking(password.expose(), memory))
            .await??)
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown
    /// email) it verifies against the dummy hash and answers `false`.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> crate::error::Result<bool> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .run(move |memory| verify_blocking(&password, &hash, memory))
            .await??;
        Ok(known && matches)
    }

    /// Runs `work` on the blocking pool under a permit, with a working
    /// memory from the pool; the memory goes back when the work ends,
    /// however it ends (the guard's `Drop` also runs on a panic).
    /// `ServerBusy` when the queue for permits is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> crate::error::Result<T> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _place = QueuePlace::take(&self.waiting, self.max_waiting).ok_or(
                    crate::error::Error::ServerBusy {
                        retry_after: Duration::from_secs(1),
                    },
                )?;
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .context("password hashing semaphore closed")?
            }
        };
        let memory = Arc::clone(&self.memory);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut blocks = memory.take();
            span.in_scope(|| work(&mut blocks))
        })
        .await
        .context("password hashing task failed")
        .map_err(Into::into)
    }
}

/// A place in the queue for hashing permits, given back when dropped
/// (also when the request waiting in it is cancelled).
struct QueuePlace<'a>(&'a AtomicUsize);

impl<'a> QueuePlace<'a> {
    fn take(waiting: &'a AtomicUsize, max: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(waiting))
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Free argon2 working memories. At most one is out per permit, so the pool
/// never holds more than there are permits (plus none: `new` puts its one
/// back before any permit exists).
struct MemoryPool {
    free: Mutex<Vec<Box<[Block]>>>,
    blocks: usize,
}

impl MemoryPool {
    fn new(blocks: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            blocks,
        }
    }

    /// A free memory, or a new one when all are out. argon2 overwrites
    /// every block on its first pass, so a used memory needs no clearing.
    fn take(&self) -> PooledBlocks<'_> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let blocks = reused.unwrap_or_else(|| vec![Block::new(); self.blocks].into_boxed_slice());
        PooledBlocks {
            pool: self,
            blocks: Some(blocks),
        }
    }
}

/// A memory taken from the pool; dropping it puts it back. `blocks` is
/// `Some` from `take` until `drop`, the only place that empties it.
struct PooledBlocks<'a> {
    pool: &'a MemoryPool,
    blocks: Option<Box<[Block]>>,
}

impl std::ops::Deref for PooledBlocks<'_> {
    type Target = [Block];

    fn deref(&self) -> &[Block] {
        self.blocks
            .as_deref()
            .expect("a pooled memory holds its blocks until it is dropped")
    }
}

impl std::ops::DerefMut for PooledBlocks<'_> {
    fn deref_mut(&mut self) -> &mut [Block] {
        self.blocks
            .as_deref_mut()
            .expect("a pooled memory holds its blocks until it is dropped")
    }
}

impl Drop for PooledBlocks<'_> {
    fn drop(&mut self) {
        if let Some(blocks) = self.blocks.take() {
            self.pool
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(blocks);
        }
    }
}

fn params() -> anyhow::Result<Params> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params()?))
}

/// The same PHC string as `argon2::PasswordHasher::hash_password` makes,
/// computed in `memory`.
fn hash_blocking(password: &str, memory: &mut [Block]) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
    let salt_string =
        SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?;
    let argon2 = argon2()?;
    let mut out = [0u8; OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("argon2 hashing: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(hash.to_string())
}

/// The parameters come from the PHC string, so hashes made with older
/// parameters still verify: those at our parameters in `memory`, any other
/// through argon2's own (allocating) verifier.
fn verify_blocking(password: &str, stored: &str, memory: &mut [Block]) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
    if let Some(result) = verify_in_memory(password, &parsed, memory) {
        return result;
    }
    match argon2()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("argon2 verification: {e}")),
    }
}

/// `None` unless `parsed` is argon2id v19 at exactly our m, t and p (no
/// secret key id or associated data), whose working memory is the size of
/// `memory`.
fn verify_in_memory(
    password: &str,
    parsed: &PasswordHash<'_>,
    memory: &mut [Block],
) -> Option<anyhow::Result<bool>> {
    if parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
    {
        return None;
    }
    let params = Params::try_from(parsed).ok()?;
    if params.m_cost() != MEMORY_KIB
        || params.t_cost() != ITERATIONS
        || params.p_cost() != PARALLELISM
        || !params.keyid().is_empty()
        || !params.data().is_empty()
        || params.block_count() != memory.len()
    {
        return None;
    }
    let expected = parsed.hash?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    Some(
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
            .map(|()| bool::from(out.ct_eq(expected.as_bytes())))
            .map_err(|e| anyhow::anyhow!("argon2 verification: {e}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `hasher` finds `password` to be the one `hash` was made of.
    async fn verifies(hasher: &PasswordHasher, password: &str, hash: &str) -> bool {
        let hash = Some(hash.to_owned());
        hasher.verify(password.into(), hash).await.unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        // Arrange
        let hasher = PasswordHasher::new().unwrap();
        let password = Password::parse("correct horse battery").unwrap();

        // Act
        let hash = hasher.hash(password).await.unwrap();

        // Assert
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verifies(&hasher, "correct horse battery", &hash).await);
        assert!(!verifies(&hasher, "correct horse battery!", &hash).await);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify("anything at all".into(), None).await.unwrap());
    }

    /// A hash made by the argon2 crate's own `PasswordHasher`.
    fn plain_argon2_hash(password: &str) -> String {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        argon2()
            .unwrap()
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_hash_of_the_plain_argon2_crate_verifies_through_the_pooled_memory() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = plain_argon2_hash("correct horse battery");
        let parsed = PasswordHash::new(&hash).unwrap();
        let mut memory = hasher.memory.take();

        assert_eq!(
            verify_in_memory("correct horse battery", &parsed, &mut memory).map(Result::unwrap),
            Some(true)
        );
        assert_eq!(
            verify_in_memory("correct horse batterY", &parsed, &mut memory).map(Result::unwrap),
            Some(false)
        );
        drop(memory);
        assert!(verifies(&hasher, "correct horse battery", &hash).await);
    }

    #[tokio::test]
    async fn a_pooled_hash_verifies_through_the_plain_argon2_crate() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hasher
            .hash(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            argon2()
                .unwrap()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            argon2()
                .unwrap()
                .verify_password(b"correct horse battery?", &parsed)
                .is_err()
        );
        // The same salt gives the very same string both ways.
        let mut memory = hasher.memory.take();
        let salt = parsed.salt.unwrap();
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).unwrap();
        let plain = {
            use argon2::password_hash::PasswordHasher as _;
            argon2()
                .unwrap()
                .hash_password(b"correct horse battery", salt)
                .unwrap()
                .to_string()
        };
        assert_eq!(plain, hash);
        let mut out = [0u8; OUTPUT_LEN];
        argon2()
            .unwrap()
            .hash_password_into_with_memory(
                b"correct horse battery",
                salt_bytes,
                &mut out,
                &mut *memory,
            )
            .unwrap();
        assert_eq!(&out[..], parsed.hash.unwrap().as_bytes());
    }

    #[tokio::test]
    async fn hashes_at_other_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = PasswordHasher::new().unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        );
        let hash = other
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        let mut memory = hasher.memory.take();
        assert!(verify_in_memory("x", &PasswordHash::new(&hash).unwrap(), &mut memory).is_none());
        drop(memory);
        assert!(verifies(&hasher, "correct horse battery", &hash).await);
        assert!(!verifies(&hasher, "wrong one!", &hash).await);
    }

    #[test]
    fn the_memory_goes_back_to_the_pool_even_on_a_panic() {
        let pool = MemoryPool::new(8);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _memory = pool.take();
            panic!("hashing failed");
        }));
        assert!(result.is_err());
        assert_eq!(pool.free.lock().unwrap().len(), 1);
        let (first, second) = (pool.take(), pool.take());
        assert_eq!((first.len(), second.len()), (8, 8));
        drop((first, second));
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn past_the_queue_bound_a_request_is_refused_at_once_and_its_place_given_back() {
        // Arrange: every permit busy, and a queue of two.
        let mut hasher = PasswordHasher::new().unwrap();
        hasher.max_waiting = 2;
        let held = Arc::clone(&hasher.permits)
            .acquire_many_owned(u32::try_from(hasher.permits.available_permits()).unwrap())
            .await
            .unwrap();
        let queued: Vec<_> = (0..2)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify("x".into(), None).await })
            })
            .collect();
        while hasher.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }

        // Act
        let refused = hasher.verify("x".into(), None).await;

        // Assert
        assert!(matches!(
            refused,
            Err(crate::error::Error::ServerBusy { .. })
        ));
        drop(held);
        for task in queued {
            assert!(!task.await.unwrap().unwrap());
        }
        assert_eq!(hasher.waiting.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_dummy_hash_uses_the_real_parameters() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(
            hasher
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
    }
}
