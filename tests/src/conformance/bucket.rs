//! The bucket's upload notifications, as the ingest function reads them, against the in-memory
//! bucket (`MemoryBlobs::notify`) and S3 on the emulator (the bucket's notification configuration
//! that `provision` writes, onto the ingest queue), by `tests/tests/conformance_bucket.rs`.
//!
//! Modelled only in memory (moto delivers each notification once, at once): notifications that
//! come twice, late and out of order, as S3's at-least-once delivery may
//! (`MemoryBlobs::shape_next_notification`); the simulation uses them. The ETag is the MD5 of the
//! bytes on S3 and a stand-in hash in memory: what both hold is that the same bytes give the same
//! ETag and other bytes another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jobq::adapters::aws::SqsMessageQueue;
use jobq::adapters::memory::{MemoryBlobs, MemoryQueues, Notify, QueueSettings};
use jobq::handlers::ingest::{CreatedObject, Notification};
use jobq::ports::blobs::Blobs;
use jobq::queue::{MessageQueue, Receive};

/// A bucket that notifies a queue of uploads under `uploads/`, and that queue.
pub struct BucketFixture {
    pub blobs: Arc<dyn Blobs>,
    pub queue: Arc<dyn MessageQueue>,
    pub url: String,
    // Keeps the emulator's resources named for the fixture's life.
    _env: Option<crate::TestEnv>,
}

impl std::fmt::Debug for BucketFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketFixture").field("url", &self.url).finish_non_exhaustive()
    }
}

impl BucketFixture {
    pub fn memory() -> Self {
        let clock = jobq::ports::clock::system();
        let queues = Arc::new(MemoryQueues::new(clock.clone()));
        let url = queues.create_queue("jobq-ingest", QueueSettings::new(60)).expect("queue");
        let blobs = MemoryBlobs::default();
        let prefix = jobq::handlers::ingest::UPLOADS_PREFIX.to_owned();
        let bucket = "jobq-uploads".to_owned();
        blobs.notify(Notify {
            bucket,
            prefix,
            queues: queues.clone(),
            url: url.clone(),
            versioned: false,
            clock,
        });
        BucketFixture { blobs: Arc::new(blobs), queue: queues, url, _env: None }
    }

    pub async fn emulator() -> Self {
        let env = crate::TestEnv::new().await;
        let blobs = jobq::adapters::aws::S3Blobs::new(env.clients.s3.clone(), env.provisioned.bucket.clone());
        let queue = SqsMessageQueue::new(env.clients.sqs.clone());
        let url = env.provisioned.ingest_queue.clone();
        BucketFixture { blobs: Arc::new(blobs), queue: Arc::new(queue), url, _env: Some(env) }
    }

    /// The objects announced on the queue until `want` are, or 20 s pass; then anything more
    /// that comes within two seconds. S3's test event is skipped.
    async fn announced(&self, want: usize) -> Vec<CreatedObject> {
        let mut objects = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut settle = None;
        loop {
            let wait = if objects.len() < want { 1 } else { 2 };
            let received =
                self.queue.receive(&self.url, &Receive::new(10, wait, Some(60))).await.expect("receive");
            for message in &received {
                if let Notification::Objects(created) =
                    Notification::parse(&message.body).expect("a notification")
                {
                    objects.extend(created);
                }
            }
            let receipts: Vec<String> = received.iter().map(|m| m.receipt_handle.clone()).collect();
            if !receipts.is_empty() {
                self.queue.delete_batch(&self.url, &receipts).await.expect("delete");
            }
            if objects.len() >= want {
                let until = *settle.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if Instant::now() >= until {
                    break;
                }
            } else if Instant::now() >= deadline {
                break;
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects
    }
}

/// Each object created under `uploads/` is announced once, its key decoded as it was written
/// (spaces and all), with its size, and an ETag that is the same for the same bytes; an object
/// elsewhere in the bucket (the store's own `jobq-data/`) is announced not at all.
pub async fn uploads_are_announced_with_key_size_and_etag(f: BucketFixture) {
    f.blobs.put("uploads/scan 1 (a).pdf", b"same bytes".to_vec()).await.expect("put");
    f.blobs.put("uploads/b.txt", b"same bytes".to_vec()).await.expect("put");
    f.blobs.put("uploads/c.txt", b"other bytes!".to_vec()).await.expect("put");
    f.blobs.put("jobq-data/j1/payload.json", b"{}".to_vec()).await.expect("put");
    let created = f.announced(3).await;
    let keys: Vec<&str> = created.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["uploads/b.txt", "uploads/c.txt", "uploads/scan 1 (a).pdf"], "{created:?}");
    let sizes: Vec<Option<u64>> = created.iter().map(|o| o.size).collect();
    assert_eq!(sizes, [Some(10), Some(12), Some(10)]);
    let etag = |i: usize| created[i].etag.clone().expect("an ETag");
    assert_eq!(etag(0), etag(2), "the same bytes, the same ETag");
    assert_ne!(etag(0), etag(1), "other bytes, another ETag");
}
