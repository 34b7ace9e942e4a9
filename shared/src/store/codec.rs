//! Job <-> DynamoDB item.
//!
//! Payload, result and error are stored as JSON strings: they round-trip exactly (DynamoDB maps
//! would lose number precision and reject some shapes) and cost no more bytes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys::{self, BY_BATCH, BY_STATUS, BY_TYPE};
use crate::model::{Job, JobFailure, format_time, parse_time};
use crate::priority::Priority;
use crate::status::JobStatus;

pub type Item = HashMap<String, AttributeValue>;

/// A stored item that does not decode as a job.
#[derive(Debug, thiserror::Error)]
#[error("stored job item is corrupt: attribute {attribute}: {reason}")]
pub struct CorruptItem {
    pub attribute: &'static str,
    pub reason: String,
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn json(v: &impl serde::Serialize) -> AttributeValue {
    AttributeValue::S(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

pub fn time(t: DateTime<Utc>) -> AttributeValue {
    s(format_time(t))
}

pub fn encode(job: &Job) -> Item {
    let created = format_time(job.created_at);
    let sk = keys::sort_key(&created, &job.id);
    let mut item: Item = HashMap::from([
        (keys::PK.into(), s(keys::job_pk(&job.id))),
        ("id".into(), s(&job.id)),
        ("type".into(), s(&job.job_type)),
        ("payload".into(), json(&job.payload)),
        ("priority".into(), n(job.priority.value())),
        ("tier".into(), s(job.tier.as_str())),
        ("status".into(), s(job.status.as_str())),
        ("attempts".into(), n(job.attempts)),
        ("max_attempts".into(), n(job.max_attempts)),
        ("progress".into(), n(job.progress)),
        ("timeout_s".into(), n(job.timeout_seconds)),
        ("gen".into(), n(job.generation)),
        ("created_at".into(), s(created)),
        (BY_STATUS.pk.into(), s(keys::status_pk(job.status, &job.id))),
        (BY_STATUS.sk.into(), s(&sk)),
        (BY_TYPE.pk.into(), s(keys::sharded(&job.job_type, &job.id))),
        (BY_TYPE.sk.into(), s(&sk)),
    ]);
    let mut opt = |name: &str, v: Option<AttributeValue>| {
        if let Some(v) = v {
            item.insert(name.into(), v);
        }
    };
    opt("current_step", job.current_step.as_deref().map(s));
    opt("message", job.message.as_deref().map(s));
    opt("result", job.result.as_ref().map(json));
    opt("error", job.error.as_ref().map(json));
    opt("idempotency_key", job.idempotency_key.as_deref().map(s));
    opt("batch_id", job.batch_id.as_deref().map(s));
    opt(BY_BATCH.pk, job.batch_id.as_deref().map(|b| s(keys::sharded(b, &job.id))));
    opt(BY_BATCH.sk, job.batch_id.as_ref().map(|_| s(&sk)));
    opt("gh_run_id", job.github_workflow_run_id.as_deref().map(s));
    opt("run_at", job.run_at.map(time));
    opt("started_at", job.started_at.map(time));
    opt("completed_at", job.completed_at.map(time));
    opt("duration_ms", job.duration_ms.map(n));
    opt("wait_ms", job.wait_ms.map(n));
    opt("lease_ms", job.lease_until.map(|t| n(t.timestamp_millis())));
    opt("next", (!job.next.is_empty()).then(|| json(&job.next)));
    item
}

pub fn decode(item: &Item) -> Result<Job, CorruptItem> {
    let r = Reader(item);
    Ok(Job {
        id: r.string("id")?,
        job_type: r.string("type")?,
        payload: r.json("payload")?.unwrap_or_default(),
        priority: Priority::new(r.number("priority")?).map_err(|e| corrupt("priority", e.to_string()))?,
        tier: r.string("tier")?.parse().map_err(|e| corrupt("tier", format!("{e}")))?,
        status: r.string("status")?.parse::<JobStatus>().map_err(|e| corrupt("status", e.to_string()))?,
        attempts: r.number("attempts")?,
        max_attempts: r.number("max_attempts")?,
        progress: r.number("progress")?,
        current_step: r.opt_string("current_step")?,
        message: r.opt_string("message")?,
        result: r.json("result")?,
        error: r.json::<JobFailure>("error")?,
        idempotency_key: r.opt_string("idempotency_key")?,
        batch_id: r.opt_string("batch_id")?,
        github_workflow_run_id: r.opt_string("gh_run_id")?,
        timeout_seconds: r.number("timeout_s")?,
        generation: r.number("gen")?,
        created_at: r.time("created_at")?.ok_or_else(|| corrupt("created_at", "missing".into()))?,
        run_at: r.time("run_at")?,
        started_at: r.time("started_at")?,
        completed_at: r.time("completed_at")?,
        duration_ms: r.opt_number("duration_ms")?,
        wait_ms: r.opt_number("wait_ms")?,
        lease_until: r
            .opt_number::<i64>("lease_ms")?
            .map(|ms| {
                DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("lease_ms", "out of range".into()))
            })
            .transpose()?,
        next: r.json("next")?.unwrap_or_default(),
    })
}

fn corrupt(attribute: &'static str, reason: String) -> CorruptItem {
    CorruptItem { attribute, reason }
}

struct Reader<'a>(&'a Item);

impl Reader<'_> {
    fn opt_string(&self, name: &'static str) -> Result<Option<String>, CorruptItem> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(corrupt(name, "not a string".into())),
        }
    }

    fn string(&self, name: &'static str) -> Result<String, CorruptItem> {
        self.opt_string(name)?.ok_or_else(|| corrupt(name, "missing".into()))
    }

    fn opt_number<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, CorruptItem> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewJob;
    use serde_json::json;

    fn sample() -> Job {
        let now = parse_time("2026-05-06T07:08:09.010Z").expect("time");
        let mut job = Job::new(
            NewJob {
                job_type: "transcode".into(),
                payload: json!({"big": 12345678901234567890u64, "f": 0.1, "s": "ü"}),
                priority: Priority::new(7).expect("valid"),
                idempotency_key: Some("k".into()),
                batch_id: Some("b1".into()),
                github_workflow_run_id: Some("123".into()),
                run_at: Some(now + chrono::Duration::seconds(60)),
                ..NewJob::default()
            },
            now,
        );
        job.error = Some(JobFailure { message: "boom".into(), details: Some(json!([1])) });
        job.result = Some(json!(null));
        job.lease_until = Some(now);
        job.duration_ms = Some(5);
        job.next = vec![NewJob { job_type: "publish".into(), ..NewJob::default() }];
        job
    }

    #[test]
    fn round_trips_every_field() {
        let job = sample();
        let item = encode(&job);
        assert_eq!(decode(&item).expect("decodes"), job);
        assert_eq!(item.get("b_pk"), Some(&s(keys::sharded("b1", &job.id))));
        assert_eq!(item.get("s_pk"), Some(&s(keys::status_pk(JobStatus::Queued, &job.id))));
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
