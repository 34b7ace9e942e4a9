//! An in-memory bucket behind the blob port, with the faults tests need: a bucket that is
//! unavailable for a while or throttles a few requests (transient), or refuses every request
//! (permanent); and, on demand, the event notifications of objects created under a prefix
//! ([`events`]).

mod events;

pub use events::{CreatedEvent, Notify};

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
    events: Arc<Mutex<Option<events::Events>>>,
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

    /// From now on, every object created under `notify.prefix` is announced on `notify.url`.
    pub fn notify(&self, notify: Notify) {
        *self.events() = Some(events::Events::new(notify));
    }

    /// The next notification arrives once per entry of `delays`, each copy that many seconds
    /// late (0..=900): `[0, 0]` twice at once, `[600]` ten minutes late. Queued: each call shapes
    /// one more notification.
    pub fn shape_next_notification(&self, delays: Vec<i32>) {
        if let Some(events) = self.events().as_mut() {
            events.shape_next(delays);
        }
    }

    /// Every object created under the notified prefix, in order, as its notification says.
    pub fn created_events(&self) -> Vec<CreatedEvent> {
        self.events().as_ref().map(|e| e.created.clone()).unwrap_or_default()
    }

    fn events(&self) -> std::sync::MutexGuard<'_, Option<events::Events>> {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Announce `key`, just created with `body`, if it is under the notified prefix.
    fn announce(&self, key: &str, body: &[u8]) -> Result<(), BlobError> {
        let mut events = self.events();
        let Some(events) = events.as_mut() else { return Ok(()) };
        let Some((message, delays)) = events.created(key, body) else { return Ok(()) };
        for delay in delays {
            let notify = &events.notify;
            notify.queues.deliver_event(&notify.url, &message, delay).map_err(|err| BlobError::Rejected {
                operation: "PutObject",
                source: format!("the notification was not delivered: {err}").into(),
            })?;
        }
        Ok(())
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
        let announced = key.to_owned();
        let bytes = self.events().is_some().then(|| body.clone());
        self.begin("PutObject")?.objects.insert(key.to_owned(), body);
        match bytes {
            Some(bytes) => self.announce(&announced, &bytes),
            None => Ok(()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.begin("DeleteObject")?.objects.remove(key);
        Ok(())
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.begin("HeadBucket").map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryQueues, QueueSettings};
    use crate::handlers::ingest::Notification;
    use crate::ports::{ManualClock, queue::MessageQueue};
    use crate::queue::Receive;

    /// Objects created under the prefix are announced on the queue, decoded by the ingest
    /// function's decoder: at least once (twice on demand), late on demand, each with a sequencer
    /// of its own; the same bytes again have the same ETag, other bytes another.
    #[tokio::test]
    async fn created_objects_notify_at_least_once_and_late() {
        let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"));
        let queues = Arc::new(MemoryQueues::new(Arc::new(clock.clone())));
        let url = queues.create_queue("ingest", QueueSettings::new(3600)).expect("queue");
        let blobs = MemoryBlobs::default();
        let notify = |versioned| Notify {
            bucket: "b".into(),
            prefix: "uploads/".into(),
            queues: queues.clone(),
            url: url.clone(),
            versioned,
            clock: Arc::new(clock.clone()),
        };
        blobs.notify(notify(false));
        blobs.shape_next_notification(vec![0, 0]);
        blobs.shape_next_notification(vec![300]);
        blobs.put("uploads/a b.pdf", b"one".to_vec()).await.expect("put");
        blobs.put("uploads/a b.pdf", b"one".to_vec()).await.expect("the same bytes again");
        blobs.put("uploads/a b.pdf", b"two".to_vec()).await.expect("other bytes");
        blobs.put("jobq-data/x/payload.json", b"{}".to_vec()).await.expect("not notified");
        let receive = Receive::new(10, 0, None);
        let objects = |messages: Vec<crate::queue::Received>| -> Vec<crate::handlers::ingest::CreatedObject> {
            messages
                .iter()
                .flat_map(|m| match Notification::parse(&m.body).expect("an S3 notification") {
                    Notification::Objects(objects) => objects,
                    Notification::Test => Vec::new(),
                })
                .collect()
        };
        let now = objects(queues.receive(&url, &receive).await.expect("receive"));
        assert_eq!(now.len(), 3, "the first twice, the third once; the second is late");
        assert_eq!((now[0].key.as_str(), &now[0].sequencer), ("uploads/a b.pdf", &now[1].sequencer));
        assert_ne!(now[0].etag, now[2].etag, "other bytes, another ETag");
        clock.advance(chrono::Duration::seconds(301));
        let late = objects(queues.receive(&url, &receive).await.expect("receive"));
        assert_eq!(late.len(), 1, "the late one, after the one created after it");
        assert_eq!(late[0].etag, now[0].etag, "the same bytes, the same ETag");
        assert!(late[0].sequencer < now[2].sequencer && late[0].sequencer > now[0].sequencer);
        assert_eq!(blobs.created_events().len(), 3);
        assert!(now.iter().all(|o| o.version_id.is_none()), "unversioned");

        blobs.notify(notify(true));
        blobs.put("uploads/c", b"one".to_vec()).await.expect("put");
        blobs.put("uploads/c", b"one".to_vec()).await.expect("put");
        let versions: Vec<Option<String>> = objects(queues.receive(&url, &receive).await.expect("receive"))
            .into_iter()
            .map(|o| o.version_id)
            .collect();
        assert!(versions[0].is_some() && versions[1].is_some() && versions[0] != versions[1], "{versions:?}");
        let sends = queues.requests().snapshot().get("SQS:SendMessage").copied();
        assert_eq!(sends, None, "S3's sends are not the deployment's");
    }
}
