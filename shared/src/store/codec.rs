//! Job <-> DynamoDB item.
//!
//! Payload, result and error are stored as JSON strings: they round-trip exactly (DynamoDB maps
//! would lose number precision and reject some shapes) and cost no more bytes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::attrs::*;
use super::keys::{self, BY_CREATED, BY_DUE, BY_STATUS};
use crate::domain::model::{Audit, Job, JobFailure, Mark, Spilled, format_time, parse_time};
use crate::domain::priority::Priority;
use crate::domain::status::JobStatus;
use crate::ports::table::Attr;

pub use crate::ports::table::Item;

/// A stored item that does not decode as a job.
#[derive(Debug, thiserror::Error)]
#[error("stored job item is corrupt: attribute {attribute}: {reason}")]
pub struct CorruptItem {
    pub attribute: &'static str,
    pub reason: String,
}

pub fn s(v: impl Into<String>) -> Attr {
    Attr::S(v.into())
}

pub fn n(v: impl ToString) -> Attr {
    Attr::N(v.to_string())
}

pub fn json(v: &impl serde::Serialize) -> Attr {
    Attr::S(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

pub fn time(t: DateTime<Utc>) -> Attr {
    s(format_time(t))
}

pub fn encode(job: &Job) -> Item {
    let created = format_time(job.created_at);
    let sk = keys::sort_key(&created, &job.id);
    let mut item: Item = HashMap::from([
        (keys::PK.into(), s(keys::job_pk(&job.id))),
        (ID.into(), s(&job.id)),
        (TYPE.into(), s(&job.job_type)),
        (PRIORITY.into(), n(job.priority.value())),
        (TIER.into(), s(job.tier.as_str())),
        (STATUS.into(), s(job.status.as_str())),
        (ATTEMPTS.into(), n(job.attempts)),
        (MAX_ATTEMPTS.into(), n(job.max_attempts)),
        (PROGRESS.into(), n(job.progress)),
        (TIMEOUT.into(), n(job.timeout_seconds)),
        (GENERATION.into(), n(job.generation)),
        (CREATED_AT.into(), s(created)),
        (BY_CREATED.pk.into(), s(keys::sharded(keys::CREATED_VALUE, &job.id))),
        (BY_CREATED.sk.into(), s(&sk)),
        // Kept while the job is out of `by-status`, so entering it needs only the partition key.
        (BY_STATUS.sk.into(), s(&sk)),
    ]);
    let mut opt = |name: &str, v: Option<Attr>| {
        if let Some(v) = v {
            item.insert(name.into(), v);
        }
    };
    opt(BY_STATUS.pk, keys::status_pk(job.status, &job.id).map(s));
    opt(CURRENT_STEP, job.current_step.as_deref().map(s));
    opt(MESSAGE, job.message.as_deref().map(s));
    // A part kept in the bucket is stored by its key instead.
    match &job.spilled.payload {
        Some(key) => opt(PAYLOAD_REF, Some(s(key))),
        None => opt(PAYLOAD, Some(json(&job.payload))),
    }
    match &job.spilled.result {
        Some(key) => opt(RESULT_REF, Some(s(key))),
        None => opt(RESULT, job.result.as_ref().map(json)),
    }
    opt(ERROR, job.error.as_ref().map(json));
    opt(IDEMPOTENCY_KEY, job.idempotency_key.as_deref().map(s));
    opt(OWNER, job.owner.as_deref().map(s));
    opt(GROUP, job.group.as_deref().map(s));
    opt(BATCH_ID, job.batch_id.as_deref().map(s));
    opt(CREATED_BY, job.audit.created_by.as_deref().map(s));
    for (mark, by, at) in audit_attributes(job) {
        opt(by, mark.map(|m| s(&m.by)));
        opt(at, mark.map(|m| n(m.at.timestamp_millis())));
    }
    opt(GITHUB_RUN_ID, job.github_workflow_run_id.as_deref().map(s));
    opt(RUN_AT, job.run_at.map(time));
    opt(STARTED_AT, job.started_at.map(time));
    opt(COMPLETED_AT, job.completed_at.map(time));
    opt(DURATION_MS, job.duration_ms.map(n));
    opt(WAIT_MS, job.wait_ms.map(n));
    opt(LEASE, job.lease_until.map(|t| n(t.timestamp_millis())));
    opt(RUN, job.run_id.as_deref().map(s));
    opt(RESENT, job.resent_at.map(|t| n(t.timestamp_millis())));
    opt(keys::TTL_ATTRIBUTE, job.expires_at.map(|t| n(t.timestamp())));
    // A job created for later is looked at when it is due (see keys::Watch).
    let scheduled = job.run_at.filter(|_| job.status == JobStatus::Scheduled);
    opt(BY_DUE.pk, scheduled.map(|_| s(keys::due_pk(keys::Watch::Release, &job.id))));
    opt(BY_DUE.sk, scheduled.map(|at| s(keys::due_sort_key(at, &job.id))));
    match &job.spilled.next {
        Some(key) => opt(NEXT_REF, Some(s(key))),
        None => opt(NEXT, (!job.next.is_empty()).then(|| json(&job.next))),
    }
    item
}

pub fn decode(item: &Item) -> Result<Job, CorruptItem> {
    let r = Reader(item);
    Ok(Job {
        id: r.string(ID)?,
        job_type: r.string(TYPE)?,
        payload: r.json(PAYLOAD)?.unwrap_or_default(),
        priority: Priority::new(r.number(PRIORITY)?).map_err(|e| corrupt("priority", e.to_string()))?,
        tier: r.string(TIER)?.parse().map_err(|e| corrupt("tier", format!("{e}")))?,
        status: r.string(STATUS)?.parse::<JobStatus>().map_err(|e| corrupt("status", e.to_string()))?,
        attempts: r.number(ATTEMPTS)?,
        max_attempts: r.number(MAX_ATTEMPTS)?,
        progress: r.number(PROGRESS)?,
        current_step: r.opt_string(CURRENT_STEP)?,
        message: r.opt_string(MESSAGE)?,
        result: r.json(RESULT)?,
        error: r.json::<JobFailure>(ERROR)?,
        idempotency_key: r.opt_string(IDEMPOTENCY_KEY)?,
        owner: r.opt_string(OWNER)?,
        group: r.opt_string(GROUP)?,
        batch_id: r.opt_string(BATCH_ID)?,
        github_workflow_run_id: r.opt_string(GITHUB_RUN_ID)?,
        timeout_seconds: r.number(TIMEOUT)?,
        generation: r.number(GENERATION)?,
        created_at: r.time(CREATED_AT)?.ok_or_else(|| corrupt("created_at", "missing".into()))?,
        run_at: r.time(RUN_AT)?,
        started_at: r.time(STARTED_AT)?,
        completed_at: r.time(COMPLETED_AT)?,
        duration_ms: r.opt_number(DURATION_MS)?,
        wait_ms: r.opt_number(WAIT_MS)?,
        lease_until: r
            .opt_number::<i64>(LEASE)?
            .map(|ms| {
                DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("lease_ms", "out of range".into()))
            })
            .transpose()?,
        run_id: r.opt_string(RUN)?,
        resent_at: r.opt_number::<i64>(RESENT)?.and_then(DateTime::from_timestamp_millis),
        expires_at: r.opt_number::<i64>(keys::TTL_ATTRIBUTE)?.and_then(|t| DateTime::from_timestamp(t, 0)),
        parked: r.opt_string(BY_DUE.pk)?.is_some_and(|pk| pk.starts_with(keys::Watch::Paused.as_str())),
        next: r.json(NEXT)?.unwrap_or_default(),
        spilled: Spilled {
            payload: r.opt_string(PAYLOAD_REF)?,
            result: r.opt_string(RESULT_REF)?,
            next: r.opt_string(NEXT_REF)?,
        },
        audit: Audit {
            created_by: r.opt_string(CREATED_BY)?,
            cancelled: r.mark(CANCELLED_BY, CANCELLED_MS)?,
            retried: r.mark(RETRIED_BY, RETRIED_MS)?,
            patched: r.mark(PATCHED_BY, PATCHED_MS)?,
        },
        taken_back_from: r.opt_string(RECOVERED_RUN)?,
    })
}

/// Each mark of a job's audit with the attributes that keep who and when.
fn audit_attributes(job: &Job) -> [(Option<&Mark>, &'static str, &'static str); 3] {
    let audit = &job.audit;
    [
        (audit.cancelled.as_ref(), CANCELLED_BY, CANCELLED_MS),
        (audit.retried.as_ref(), RETRIED_BY, RETRIED_MS),
        (audit.patched.as_ref(), PATCHED_BY, PATCHED_MS),
    ]
}

fn corrupt(attribute: &'static str, reason: String) -> CorruptItem {
    CorruptItem { attribute, reason }
}

struct Reader<'a>(&'a Item);

impl Reader<'_> {
    fn opt_string(&self, name: &'static str) -> Result<Option<String>, CorruptItem> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Attr::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(corrupt(name, "not a string".into())),
        }
    }

    fn string(&self, name: &'static str) -> Result<String, CorruptItem> {
        self.opt_string(name)?.ok_or_else(|| corrupt(name, "missing".into()))
    }

    fn opt_number<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, CorruptItem> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Attr::N(v)) => {
                v.parse().map(Some).map_err(|_| corrupt(name, format!("{v:?} is not a valid number here")))
            }
            Some(_) => Err(corrupt(name, "not a number".into())),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &'static str) -> Result<T, CorruptItem> {
        self.opt_number(name)?.ok_or_else(|| corrupt(name, "missing".into()))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, CorruptItem> {
        self.opt_string(name)?
            .map(|v| serde_json::from_str(&v).map_err(|e| corrupt(name, e.to_string())))
            .transpose()
    }

    fn time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, CorruptItem> {
        self.opt_string(name)?.map(|v| parse_time(&v).map_err(|e| corrupt(name, e.to_string()))).transpose()
    }

    /// An audit mark: who (`by`) and when (`at`, epoch milliseconds); none unless both are there.
    fn mark(&self, by: &'static str, at: &'static str) -> Result<Option<Mark>, CorruptItem> {
        let (Some(who), Some(ms)) = (self.opt_string(by)?, self.opt_number::<i64>(at)?) else {
            return Ok(None);
        };
        let at = DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(at, "out of range".into()))?;
        Ok(Some(Mark { by: who, at }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::NewJob;
    use serde_json::json;

    fn sample() -> Job {
        let now = parse_time("2026-05-06T07:08:09.010Z").expect("time");
        let mut job = Job::new(
            NewJob {
                job_type: "transcode".into(),
                payload: json!({"big": 12345678901234567890u64, "f": 0.1, "s": "ü"}),
                priority: Priority::new(7).expect("valid"),
                idempotency_key: Some("k".into()),
                owner: Some("alice".into()),
                group: Some("channel:abc".into()),
                batch_id: Some("b1".into()),
                github_workflow_run_id: Some("123".into()),
                run_at: Some(now + chrono::Duration::seconds(60)),
                created_by: Some("ops".into()),
                ..NewJob::default()
            },
            now,
        );
        job.error = Some(JobFailure { message: "boom".into(), details: Some(json!([1])) });
        job.result = Some(json!(null));
        job.lease_until = Some(now);
        job.run_id = Some("run-1".into());
        job.duration_ms = Some(5);
        job.next = vec![NewJob { job_type: "publish".into(), ..NewJob::default() }];
        job.audit.cancelled = Some(Mark::new("ops", now));
        job.audit.retried = Some(Mark::new("alice", now + chrono::Duration::seconds(1)));
        job.audit.patched = Some(Mark::new("runner", now + chrono::Duration::seconds(2)));
        job
    }

    #[test]
    fn round_trips_every_field() {
        let job = sample();
        let item = encode(&job);
        assert_eq!(decode(&item).expect("decodes"), job);
        // A batch is listed from `by-created` (its batch projected there), not an index of its own.
        assert_eq!(item.get("batch_id"), Some(&s("b1")));
        assert_eq!(item.get("b_pk"), None);
        assert_eq!(item.get("c_pk"), Some(&s(keys::sharded("jobs", &job.id))));
        assert_eq!(item.get("s_pk"), None, "queued jobs are listed from by-created");
        let failed = Job { status: JobStatus::Failed, ..job };
        assert_eq!(encode(&failed).get("s_pk"), Some(&s(keys::sharded("failed", &failed.id))));
    }

    #[test]
    fn parts_kept_in_the_bucket_are_stored_by_key_instead() {
        let mut job = sample();
        job.spilled = Spilled {
            payload: Some("jobq-data/p".into()),
            result: Some("jobq-data/r".into()),
            next: Some("jobq-data/n".into()),
        };
        let item = encode(&job);
        assert_eq!(
            (item.get(PAYLOAD), item.get(RESULT), item.get(NEXT)),
            (None, None, None),
            "not inline too"
        );
        assert_eq!(item.get(PAYLOAD_REF), Some(&s("jobq-data/p")));
        assert_eq!(item.get(NEXT_REF), Some(&s("jobq-data/n")));
        let back = decode(&item).expect("decodes");
        assert_eq!(back.spilled, job.spilled);
        assert_eq!((back.payload, back.result), (serde_json::Value::Null, None), "read back by the store");
        assert!(back.next.is_empty(), "read back by the store");
    }

    #[test]
    fn corrupt_items_name_the_attribute() {
        let mut item = encode(&sample());
        item.insert("status".into(), s("exploded"));
        let err = decode(&item).expect_err("bad status");
        assert_eq!(err.attribute, "status");
        item.remove("status");
        assert_eq!(decode(&item).expect_err("missing").attribute, "status");
    }
}
