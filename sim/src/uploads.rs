//! S3 uploads in the simulated deployment (issue 25, item 8). The bucket notifies the ingest
//! queue of every object created under `uploads/`, as the template configures it, and the ingest
//! function (the real handler) turns each notification into a job. S3 delivers notifications at
//! least once and not in order: one may come twice, and late, after a later one
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html>); the
//! memory bucket does so as the uploader draws it ([`jobq::adapters::memory::MemoryBlobs::shape_next_notification`]).
//! Uploads go to a few keys, so a key is uploaded again, with the same bytes or others; the
//! bucket is versioned or not, by the seed.
//!
//! Invariant ([`check`]): every upload (each object created: each version, or each PUT of an
//! unversioned key) made exactly one job, whatever copies of its notification came, and every
//! notification was done with (none left on the ingest queue, none dead-lettered). The upload
//! jobs join the accepted ones, so every other invariant holds them too: each ends terminal, as
//! an `echo` job does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jobq::adapters::memory::{Notify, QueueSettings};
use jobq::handlers::ingest::{IngestHandler, IngestRules, UPLOADS_PREFIX};
use jobq::ports::Blobs;
use jobq::queue::{MessageQueue, TierQueues};
use jobq::resources::{MAX_RECEIVE_COUNT, ResourceNames};
use jobq::{PerTier, PriorityTier};

use crate::invariants::Violation;
use crate::world::{Accepted, Expect, World};

/// The uploads bucket.
pub const BUCKET: &str = "jobq-uploads";
/// The ingest function's timeout (the template's `Timeout: 60`): Lambda ends it then.
pub const INGEST_DEADLINE: Duration = Duration::from_secs(60);
/// The ingest queue's visibility timeout (the template's).
const INGEST_VISIBILITY: i32 = 5400;
/// The ARN the event names (the handler does not read it).
const INGEST_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobq-ingest";
/// The keys uploaded to: few, so keys are uploaded again. Spaces and `+` are form-encoded in
/// the notification.
const KEYS: [&str; 5] = [
    "uploads/report.pdf",
    "uploads/scans/page 1.png",
    "uploads/a+b.txt",
    "uploads/video/talk.mp4",
    "uploads/data.csv",
];

/// The ingest queue, its DLQ, and the ingest function's handler.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub url: String,
    pub dlq: String,
    handler: Arc<IngestHandler>,
}

/// The ingest queue and its DLQ as the template makes them, the bucket notifying the queue (of
/// `uploads/` only), and the ingest function routing every upload to an `echo` job.
pub fn deploy(world: &World, versioned: bool) -> Ingest {
    let names = ResourceNames::new("jobq-");
    let create = |name: String, settings: QueueSettings| {
        world.queues.create_queue(&name, settings).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let dlq = create(names.ingest_dlq(), QueueSettings::new(INGEST_VISIBILITY));
    let url = create(
        names.ingest_queue(),
        QueueSettings::new(INGEST_VISIBILITY).with_redrive(dlq.clone(), MAX_RECEIVE_COUNT),
    );
    world.blobs.notify(Notify {
        bucket: BUCKET.to_owned(),
        prefix: UPLOADS_PREFIX.to_owned(),
        queues: world.queues.clone(),
        url: url.clone(),
        versioned,
        clock: world.clock.clone(),
    });
    let service = world.ports.service(&world.config, world.job_types().clone());
    let rules = IngestRules::parse("sim", r#"[{"prefix": "uploads/", "type": "echo"}]"#)
        .unwrap_or_else(|e| panic!("rules: {e}"));
    let port: Arc<dyn MessageQueue> = world.queues.clone();
    let handler =
        IngestHandler::new(service, rules, Some((port.clone(), dlq.clone()))).returning_to(port, url.clone());
    Ingest { url, dlq, handler: Arc::new(handler) }
}

/// The ingest function's event source mapping: batches of up to 10 from the ingest queue, each
/// invocation ended by Lambda at [`INGEST_DEADLINE`] (its messages then return after the
/// queue's visibility timeout), what succeeded deleted.
pub async fn function(world: World, ingest: Ingest, idle_poll: Duration) {
    let port: Arc<dyn MessageQueue> = world.queues.clone();
    // One queue, seen as a queue whose three tiers are the same URL (as the local host does).
    let queue = TierQueues::with_port(port, PerTier::from_fn(|_| ingest.url.clone()));
    loop {
        let messages = match queue.receive(PriorityTier::Normal, 10, 0, None).await {
            Ok(messages) if !messages.is_empty() => messages,
            _ => {
                tokio::time::sleep(idle_poll).await;
                continue;
            }
        };
        let handler = ingest.handler.clone();
        let run = jobq::handlers::worker::deliver(
            &queue,
            PriorityTier::Normal,
            INGEST_ARN,
            &messages,
            |event| async move { handler.handle(event).await },
        );
        if tokio::time::timeout(INGEST_DEADLINE, run).await.is_err() {
            *world.log().faults.entry("ingest_timed_out").or_default() += 1;
        }
        tokio::task::yield_now().await;
    }
}

/// How S3 delivers the next notification, drawn: the delays of its copies, in seconds.
fn draw_delivery(rng: &mut fastrand::Rng) -> (Vec<i32>, &'static str) {
    match rng.u8(..10) {
        0..=4 => (vec![0], "upload"),
        5 | 6 => (vec![0, rng.i32(0..=120)], "upload_notified_twice"),
        7 | 8 => (vec![rng.i32(30..=900)], "upload_notified_late"),
        _ => (vec![rng.i32(0..=900), rng.i32(0..=900)], "upload_notified_twice_late"),
    }
}

/// A client uploading `uploads` objects at random moments over `over`: to a few keys, each
/// again now and then with the same bytes as before or others. A PUT S3 refuses is sent again.
pub async fn uploader(world: World, mut rng: fastrand::Rng, uploads: usize, over: Duration) {
    let mean_gap = over.as_secs_f64() / uploads.max(1) as f64;
    let mut last: HashMap<&str, Vec<u8>> = HashMap::new();
    for n in 0..uploads {
        let gap = -mean_gap * (1.0 - rng.f64()).ln();
        tokio::time::sleep(Duration::from_secs_f64(gap.min(over.as_secs_f64()))).await;
        let key = KEYS[rng.usize(..KEYS.len())];
        let bytes = match last.get(key) {
            Some(before) if rng.bool() => before.clone(),
            _ => format!("upload {n} of {key}").into_bytes(),
        };
        let (delays, kind) = draw_delivery(&mut rng);
        world.blobs.shape_next_notification(delays);
        while world.blobs.put(key, bytes.clone()).await.is_err() {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        last.insert(key, bytes);
        *world.log().faults.entry(kind).or_default() += 1;
    }
}

/// What names one upload in its job's payload: key, ETag and version.
type Upload = (String, String, Option<String>);

/// Every upload made exactly one job, and every notification was done with. The upload jobs
/// join the accepted ones (an `echo` job completes on its first attempt).
pub async fn check(world: &World, ingest: &Ingest) -> Vec<Violation> {
    let broken = |detail: String| Violation { invariant: "uploads", detail };
    let jobs = match crate::invariants::all_jobs(world).await {
        Ok(jobs) => jobs,
        Err(err) => return vec![broken(format!("jobs unreadable: {err}"))],
    };
    let mut uploaded: BTreeMap<Upload, usize> = BTreeMap::new();
    for event in world.blobs.created_events() {
        *uploaded.entry((event.key, event.etag, event.version_id)).or_default() += 1;
    }
    let mut made: BTreeMap<Upload, usize> = BTreeMap::new();
    let mut log = world.log();
    for job in jobs.iter().filter(|j| j.payload.get("bucket").and_then(|b| b.as_str()) == Some(BUCKET)) {
        let text = |field: &str| job.payload.get(field).and_then(|v| v.as_str()).map(str::to_owned);
        let upload = (text("key").unwrap_or_default(), text("etag").unwrap_or_default(), text("version_id"));
        *made.entry(upload).or_default() += 1;
        log.accepted
            .entry(job.id.clone())
            .or_insert(Accepted { expect: Expect::completes(1), tier: job.tier });
    }
    let mut violations = Vec::new();
    for upload in uploaded.keys().chain(made.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (want, got) =
            (uploaded.get(upload).copied().unwrap_or(0), made.get(upload).copied().unwrap_or(0));
        if want != got {
            violations.push(broken(format!("{upload:?} was uploaded {want} times and made {got} jobs")));
        }
    }
    for (url, what) in [(&ingest.url, "left on the ingest queue"), (&ingest.dlq, "dead-lettered")] {
        let left = world.queues.bodies(url);
        if !left.is_empty() {
            violations.push(broken(format!("{} notifications {what}: {:?}", left.len(), left)));
        }
    }
    violations
}
