//! The job record and what a client submits to create one.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::SYSTEM_PREFIX;
use crate::domain::priority::{Priority, PriorityTier};
use crate::domain::status::JobStatus;

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 300;
/// The longest delay SQS can put on a message; later jobs wait as `scheduled`.
pub const MAX_SQS_DELAY_SECONDS: i64 = 15 * 60;

/// Whether a job due at `run_at` is too far ahead for an SQS delay at `now`: it then waits in the
/// table, and the scheduler sends its message once it is within reach.
pub fn beyond_sqs_delay(run_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    run_at - now > Duration::seconds(MAX_SQS_DELAY_SECONDS)
}

/// Why a run failed, as recorded on the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobFailure {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// A job as stored in DynamoDB and returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub payload: Value,
    /// Written as the number alone.
    #[schema(value_type = u8, maximum = 10)]
    pub priority: Priority,
    pub tier: PriorityTier,
    pub status: JobStatus,
    pub attempts: u32,
    pub max_attempts: u32,
    pub progress: u8,
    pub current_step: Option<String>,
    pub message: Option<String>,
    pub result: Option<Value>,
    pub error: Option<JobFailure>,
    pub idempotency_key: Option<String>,
    /// Who the job belongs to (a caller's owner name, or one of jobq's system callers); none on
    /// a job from before owners.
    pub owner: Option<String>,
    /// A set of jobs the owner lists together (`channel:abc`, `book:123`).
    pub group: Option<String>,
    pub batch_id: Option<String>,
    pub github_workflow_run_id: Option<String>,
    pub timeout_seconds: u32,
    /// Bumped by every retry from the API; envelopes of older generations are dropped.
    pub generation: u64,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the job is (or was) due: a delay, a schedule, or a retry's backoff.
    #[serde(with = "rfc3339::option")]
    pub run_at: Option<DateTime<Utc>>,
    /// Start of the latest run.
    #[serde(with = "rfc3339::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Latest run: from start to finish.
    pub duration_ms: Option<u64>,
    /// Latest run: from due to start.
    pub wait_ms: Option<u64>,
    /// While `processing`: the run owns the job until then.
    #[serde(with = "rfc3339::option")]
    pub lease_until: Option<DateTime<Utc>>,
    /// The token of the current (or last) run, set by its claim: the run's writes are conditional
    /// on it. Internal: not part of the API's job.
    #[serde(skip)]
    pub run_id: Option<String>,
    /// Parked while its tier or type is paused: no message exists until the pause ends.
    /// Internal: not part of the API's job.
    #[serde(skip)]
    pub parked: bool,
    /// When the scheduler last sent a waiting job's message again (lost, or released after a
    /// pause). Internal: not part of the API's job.
    #[serde(skip)]
    pub resent_at: Option<DateTime<Utc>>,
    /// When its retention ends (DynamoDB's TTL attribute, set when it ends). Past it, the job is
    /// gone as far as jobq is concerned, though DynamoDB deletes it hours to days later.
    /// Internal: not part of the API's job.
    #[serde(skip)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Jobs to enqueue when this one completes: the first now, carrying the rest as its own `next`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<NewJob>,
    /// Who enqueued, cancelled, retried and reported on it, and when.
    #[serde(default)]
    pub audit: Audit,
    /// The parts kept outside the record (too large for it), by their keys in the bucket.
    /// Internal: the store reads them back in place of `payload` and `result`.
    #[serde(skip)]
    pub spilled: Spilled,
    /// The run this attempt's claim found the job taken back from (its lease ended while AWS
    /// failed it), if any: a delivery resuming that run may give the attempt back. Internal.
    #[serde(skip)]
    pub taken_back_from: Option<String>,
}

/// A change a caller made, by its owner name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mark {
    /// The caller's owner name (`jobq:…` for jobq's own parts).
    pub by: String,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
}

impl Mark {
    pub fn new(by: &str, at: DateTime<Utc>) -> Mark {
        Mark { by: by.to_owned(), at }
    }
}

/// A job's audit trail: who enqueued it, and the last cancel, retry and report (`PATCH`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Audit {
    /// Who enqueued it: its owner, an admin enqueuing for the owner, or one of jobq's parts (a
    /// pipeline's step names who enqueued the pipeline). None on a job from before audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Mark>,
    /// The last retry (a job retried twice shows the second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<Mark>,
    /// The last report (`PATCH /jobs/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patched: Option<Mark>,
}

/// Keys of a job's parts kept in the bucket instead of its record (none: stored inline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spilled {
    pub payload: Option<String>,
    pub result: Option<String>,
    /// The pipeline's later steps (`next`).
    pub next: Option<String>,
}

impl Spilled {
    pub fn is_empty(&self) -> bool {
        self.payload.is_none() && self.result.is_none() && self.next.is_none()
    }

    /// Every key named.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        [&self.payload, &self.result, &self.next].into_iter().flatten().map(String::as_str)
    }
}

/// What a client asks for; validated by the API before it becomes a [`Job`]. The API shows it
/// as a job's `next`: a later step of its pipeline.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[schema(
    as = PipelineStep,
    description = "A later step of the job's pipeline, enqueued when the steps before it completed."
)]
pub struct NewJob {
    #[serde(rename = "type")]
    pub job_type: String,
    #[serde(default)]
    pub payload: Value,
    /// Written as the number alone.
    #[serde(default)]
    #[schema(value_type = u8, maximum = 10)]
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Set from the caller (an admin may name another owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The idempotency key is jobq's own (a pipeline step's), not its owner's: it maps to an id
    /// in jobq's namespace. Internal: never read from a request.
    #[serde(skip)]
    pub system_key: bool,
    /// Who enqueues it (the caller, not always its owner). Internal: set from the caller.
    #[serde(skip)]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_run_id: Option<String>,
    #[serde(default, with = "rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub run_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub next: Vec<NewJob>,
}

impl Job {
    /// A new record: `scheduled` when due beyond what an SQS delay can cover, else `queued`.
    pub fn new(spec: NewJob, now: DateTime<Utc>) -> Job {
        Job::new_with_id(spec, now, new_job_id)
    }

    /// [`Job::new`], taking the id of a job without an idempotency key from `fresh_id` (called
    /// only then: a keyed job's id is always the one its key maps to).
    pub fn new_with_id(spec: NewJob, now: DateTime<Utc>, fresh_id: impl FnOnce() -> String) -> Job {
        let id = spec.keyed_id().unwrap_or_else(fresh_id);
        let now = truncate_to_millis(now);
        let run_at = spec.run_at.map(truncate_to_millis).filter(|at| *at > now);
        let status = match run_at {
            Some(at) if beyond_sqs_delay(at, now) => JobStatus::Scheduled,
            _ => JobStatus::Queued,
        };
        Job {
            id,
            job_type: spec.job_type,
            payload: spec.payload,
            priority: spec.priority,
            tier: spec.priority.tier(),
            status,
            attempts: 0,
            max_attempts: spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
            progress: 0,
            current_step: None,
            message: None,
            result: None,
            error: None,
            idempotency_key: spec.idempotency_key,
            owner: spec.owner,
            group: spec.group,
            batch_id: spec.batch_id,
            github_workflow_run_id: spec.github_workflow_run_id,
            timeout_seconds: spec.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            generation: 0,
            created_at: now,
            run_at,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            wait_ms: None,
            lease_until: None,
            run_id: None,
            parked: false,
            resent_at: None,
            expires_at: None,
            next: spec.next,
            audit: Audit { created_by: spec.created_by, ..Audit::default() },
            spilled: Spilled::default(),
            taken_back_from: None,
        }
    }

    /// The job a completed pipeline step enqueues next, with an id derived from this job's, so
    /// enqueueing it twice (a redelivered parent) finds the same job.
    pub fn next_step(&self) -> Option<NewJob> {
        let (first, rest) = self.next.split_first()?;
        let mut step = first.clone();
        step.next.extend(rest.iter().cloned());
        step.idempotency_key = Some(format!("{}:next", self.id));
        step.system_key = true;
        step.owner = self.owner.clone();
        step.created_by = self.audit.created_by.clone();
        step.group = step.group.or_else(|| self.group.clone());
        step.batch_id = step.batch_id.or_else(|| self.batch_id.clone());
        step.github_workflow_run_id =
            step.github_workflow_run_id.or_else(|| self.github_workflow_run_id.clone());
        Some(step)
    }

    /// Seconds of SQS delay for the message that delivers a `queued` job (0..=900).
    pub fn delay_seconds(&self, now: DateTime<Utc>) -> i32 {
        let Some(at) = self.run_at else { return 0 };
        let secs = ((at - now).num_milliseconds() + 999).div_euclid(1000);
        secs.clamp(0, MAX_SQS_DELAY_SECONDS) as i32
    }

    /// When this job became due for its latest run.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.run_at.unwrap_or(self.created_at)
    }

    /// Past its retention at `now`: DynamoDB may still return it for up to two days, but the
    /// job is over (its idempotency key free, its id not found).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A fresh, time-ordered id for a job without an idempotency key.
pub fn new_job_id() -> String {
    Uuid::now_v7().to_string()
}

impl NewJob {
    /// The id its idempotency key maps to, if it has one: jobq's own keys (a pipeline step's, and
    /// those of jobq's system callers: uploads, schedules) as before owners; an owner's key
    /// within that owner, in a namespace of its own. So the same key from two owners makes two
    /// jobs, and no caller's key can name one of jobq's jobs.
    pub fn keyed_id(&self) -> Option<String> {
        let key = self.idempotency_key.as_deref()?;
        Some(match self.owner.as_deref() {
            Some(owner) if !self.system_key && !owner.starts_with(SYSTEM_PREFIX) => {
                job_id_for_owner_key(owner, key)
            }
            _ => job_id_for_key(key),
        })
    }
}

/// The id one of jobq's own keys (or a key from before owners) always maps to, so a repeated
/// enqueue collides on the same item.
pub fn job_id_for_key(key: &str) -> String {
    Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string()
}

/// The id `owner`'s `key` always maps to. An owner name holds no control character, so the
/// newline between them is unambiguous.
pub fn job_id_for_owner_key(owner: &str, key: &str) -> String {
    Uuid::new_v5(&OWNER_KEY_NAMESPACE, format!("{owner}\n{key}").as_bytes()).to_string()
}

// Both fixed for the life of the product: changing one would break idempotency of stored jobs.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a6f_6271_2d69_6465_6d70_6f74_656e_6379);
const OWNER_KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6a6f_6271_2d6f_776e_6572_2d6b_6579_7321);

/// DynamoDB and SQS keep milliseconds; so do we, so a record reads back equal.
pub fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// RFC 3339 in UTC with milliseconds: fixed width, so it also sorts as a string.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// Serde helpers that write [`format_time`].
pub mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&format_time(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| parse_time(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).expect("valid time")
    }

    #[test]
    fn idempotency_key_derives_a_stable_id() {
        let now = at("2026-01-01T00:00:00Z");
        let spec = |key: &str| NewJob {
            job_type: "noop".into(),
            idempotency_key: Some(key.into()),
            ..NewJob::default()
        };
        let a = Job::new(spec("order-42"), now);
        let b = Job::new(spec("order-42"), now + Duration::seconds(5));
        let c = Job::new(spec("order-43"), now);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_ne!(new_job_id(), new_job_id());
    }

    #[test]
    fn a_key_is_its_owners_and_no_owner_key_names_one_of_jobqs_jobs() {
        let keyed = |owner: Option<&str>, key: &str| NewJob {
            job_type: "noop".into(),
            idempotency_key: Some(key.into()),
            owner: owner.map(str::to_owned),
            ..NewJob::default()
        };
        let id = |spec: NewJob| spec.keyed_id().expect("keyed");
        let alice = id(keyed(Some("alice"), "order-1"));
        assert_eq!(alice, id(keyed(Some("alice"), "order-1")), "stable");
        assert_ne!(alice, id(keyed(Some("bob"), "order-1")), "two owners' same key: two jobs");
        assert_eq!(alice, job_id_for_owner_key("alice", "order-1"));
        // jobq's own keys keep the ids they had before owners, so a redelivered upload or a
        // schedule's run across the upgrade still finds its job; no owner's key reaches them.
        let upload = "s3:bucket/in/a.png@1";
        assert_eq!(id(keyed(Some("jobq:ingest"), upload)), job_id_for_key(upload));
        assert_ne!(id(keyed(Some("alice"), upload)), job_id_for_key(upload));
        assert_eq!(id(keyed(None, "order-1")), job_id_for_key("order-1"), "a job from before owners");
        // A pipeline's next step belongs to its parent's owner, under jobq's key.
        let parent = Job::new(
            NewJob {
                next: vec![keyed(None, "ignored")],
                group: Some("book:1".into()),
                ..keyed(Some("alice"), "p")
            },
            at("2026-01-01T00:00:00Z"),
        );
        let step = parent.next_step().expect("a next step");
        assert_eq!((step.owner.as_deref(), step.group.as_deref()), (Some("alice"), Some("book:1")));
        assert_eq!(id(step), job_id_for_key(&format!("{}:next", parent.id)));
        let forged = keyed(Some("alice"), &format!("{}:next", parent.id));
        assert_ne!(id(forged), job_id_for_key(&format!("{}:next", parent.id)), "an owner cannot forge it");
    }

    #[test]
    fn a_given_id_is_used_only_for_a_job_without_a_key() {
        let now = at("2026-01-01T00:00:00Z");
        let fresh = || "0000-given".to_owned();
        let unkeyed = Job::new_with_id(NewJob { job_type: "noop".into(), ..NewJob::default() }, now, fresh);
        assert_eq!(unkeyed.id, "0000-given");
        let keyed =
            NewJob { job_type: "noop".into(), idempotency_key: Some("k".into()), ..NewJob::default() };
        let keyed = Job::new_with_id(keyed, now, || panic!("a keyed job draws no id"));
        assert_eq!(keyed.id, job_id_for_key("k"));
    }

    #[test]
    fn defaults_and_tier_follow_the_spec() {
        let job = Job::new(
            NewJob {
                job_type: "echo".into(),
                payload: json!({"a": 1}),
                priority: Priority::new(8).expect("valid"),
                ..NewJob::default()
            },
            at("2026-01-01T00:00:00.123456Z"),
        );
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.tier, PriorityTier::High);
        assert_eq!((job.attempts, job.max_attempts, job.timeout_seconds), (0, 3, 300));
        assert_eq!(format_time(job.created_at), "2026-01-01T00:00:00.123Z");
    }

    #[test]
    fn delays_beyond_sqs_limit_are_scheduled() {
        let now = at("2026-01-01T00:00:00Z");
        let job_due_in = |secs: i64| {
            Job::new(
                NewJob {
                    job_type: "noop".into(),
                    run_at: Some(now + Duration::seconds(secs)),
                    ..NewJob::default()
                },
                now,
            )
        };
        let soon = job_due_in(900);
        assert_eq!(soon.status, JobStatus::Queued);
        assert_eq!(soon.delay_seconds(now), 900);
        let later = job_due_in(901);
        assert_eq!(later.status, JobStatus::Scheduled);
        assert_eq!(later.delay_seconds(now), 900, "capped at SQS's maximum");
        let past = job_due_in(-30);
        assert_eq!((past.status, past.run_at), (JobStatus::Queued, None));
        assert_eq!(past.delay_seconds(now), 0);
    }

    #[test]
    fn a_pipeline_enqueues_one_step_at_a_time_with_a_derived_id() {
        let now = at("2026-01-01T00:00:00Z");
        let step = |t: &str| NewJob { job_type: t.into(), ..NewJob::default() };
        let parent = Job::new(
            NewJob { next: vec![step("download"), step("transform"), step("publish")], ..step("scrape") },
            now,
        );
        let second = parent.next_step().expect("has a next step");
        assert_eq!(second.job_type, "download");
        let types: Vec<&str> = second.next.iter().map(|s| s.job_type.as_str()).collect();
        assert_eq!(types, ["transform", "publish"]);
        let second_job = Job::new(second.clone(), now);
        assert_eq!(second_job.id, Job::new(parent.next_step().expect("again"), now).id, "stable id");
        assert_ne!(second_job.id, parent.id);
        let third = second_job.next_step().expect("third");
        assert_eq!((third.job_type.as_str(), third.next.len()), ("transform", 1));
        assert!(Job::new(step("last"), now).next_step().is_none());
    }

    #[test]
    fn json_uses_rfc3339_and_the_public_field_names() {
        let job =
            Job::new(NewJob { job_type: "noop".into(), ..NewJob::default() }, at("2026-03-04T05:06:07.890Z"));
        let value = serde_json::to_value(&job).expect("serialize");
        assert_eq!(value["type"], "noop");
        assert_eq!(value["status"], "queued");
        assert_eq!(value["created_at"], "2026-03-04T05:06:07.890Z");
        assert_eq!(value["started_at"], Value::Null);
        let back: Job = serde_json::from_value(value).expect("deserialize");
        assert_eq!(back, job);
    }
}
