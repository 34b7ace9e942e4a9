//! An in-memory bucket behind the blob port, with the faults tests need: a bucket that is
//! unavailable for a while or throttles a few requests (transient), or refuses every request
//! (permanent).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::ports::blobs::{BlobError, Blobs};

#[derive(Debug, Default)]
struct State {
    objects: HashMap<String, Vec<u8>>,
    requests: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryBlobs {
    state: Arc<Mutex<State>>,
    unavailable: Arc<AtomicBool>,
    throttle_next: Arc<AtomicU32>,
    refusing: Arc<AtomicBool>,
}

impl MemoryBlobs {
    /// Every request fails as S3 does under load (transient) until called with `false`.
    pub fn set_unavailable(&self, on: bool) {
        self.unavailable.store(on, Ordering::SeqCst);
    }

    /// The next `n` requests fail as throttled: S3 answers `503 Slow Down` when a prefix gets more
    /// requests than it serves at once, and asks for them to be sent again later
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html>).
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next.store(n, Ordering::SeqCst);
    }

    /// Every request is refused (as with a missing permission) until called with `false`.
    pub fn set_refusing(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    /// Requests answered so far, by operation (failed ones included).
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.lock().requests.clone()
    }

    /// The keys stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().objects.keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin(&self, operation: &'static str) -> Result<std::sync::MutexGuard<'_, State>, BlobError> {
        let mut state = self.lock();
        *state.requests.entry(operation).or_default() += 1;
        let once = self.throttle_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if self.unavailable.load(Ordering::SeqCst) || once.is_ok() {
            return Err(BlobError::Transient {
                operation,
                source: "SlowDown: reduce your request rate".into(),
            });
        }
        if self.refusing.load(Ordering::SeqCst) {
            return Err(BlobError::Rejected { operation, source: "AccessDenied: not authorized".into() });
        }
        Ok(state)
    }
}

#[async_trait::async_trait]
impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError> {
        self.begin("PutObject")?.objects.insert(key.to_owned(), body);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.begin("DeleteObject")?.objects.remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        const OP: &str = "GetObject";
        let state = self.begin(OP)?;
        state
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| BlobError::NotFound { operation: OP, key: key.to_owned() })
    }
}
