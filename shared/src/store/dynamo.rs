//! The job store on DynamoDB. Every status change is one conditional UpdateItem whose condition
//! lists the source states the transition function allows; a refused write returns the current
//! item in the same request (ReturnValuesOnConditionCheckFailure), so refusals cost no extra read.
//!
//! Every write to a job item also stores a fresh write token ([`WRITE_TOKEN`]). The SDK retries a
//! request whose response was lost (a dropped connection, a timeout) with the same token; if the
//! first attempt took effect, the retry's condition fails and the item it returns carries our
//! token: the write is ours, not a refusal. Without this, a claim whose response was lost looked
//! like another run's lease, and a finish like someone else's change.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    WriteRequest,
};
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use tracing::instrument;

use super::codec::{self, Item, n, s, time};
use super::keys::{self, BY_STATUS, PAUSE_PK, PK, TTL_ATTRIBUTE};
use super::listing::{ListQuery, Page, PartitionPage, decode_cursor, encode_cursor, merge_page};
use super::pause::{PauseFlags, PauseScope};
use super::{
    BatchStats, Conflict, Created, ExternalUpdate, ProgressUpdate, RunOutcome, StoreError, TypeStats,
    classify_refusal,
};
use crate::model::{Job, JobFailure};
use crate::priority::Priority;
use crate::status::{JobEvent, JobStatus};

/// Concurrent index queries of one listing.
const LIST_FANOUT: usize = 16;
/// BatchGetItem's limit.
const BATCH_GET_MAX: usize = 100;
const PAUSE_SCOPES: &str = "scopes";
/// The attribute holding the token of the last write to a job item.
pub const WRITE_TOKEN: &str = "wtok";

/// Unique per write request (not per SDK attempt: retries resend the same request).
fn write_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    client: Client,
    table: String,
    /// How long terminal jobs are kept before DynamoDB's TTL deletes them.
    retention: Duration,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        DynamoJobStore { client, table: table.into(), retention }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Put a new job; if its id exists (same idempotency key), return the stored one. One request.
    #[instrument(skip_all, fields(job_id = %job.id))]
    pub async fn create(&self, job: &Job) -> Result<Created, StoreError> {
        let token = write_token();
        let mut item = codec::encode(job);
        item.insert(WRITE_TOKEN.to_owned(), s(&token));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut round = 0;
        loop {
            round += 1;
            match request.clone().send().await {
                Ok(_) => return Ok(Created::New(job.clone())),
                Err(SdkError::ServiceError(err)) => match err.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => {
                        let existing = e.item().ok_or_else(|| StoreError::NotFound { id: job.id.clone() })?;
                        if is_ours(existing, &token) {
                            // An earlier attempt of this put took effect; its response was lost.
                            return Ok(Created::New(job.clone()));
                        }
                        return Ok(Created::Existing(decode(&job.id, existing)?));
                    }
                    other if round < WRITE_ROUNDS && put_may_succeed_later(&other) => {}
                    other => return Err(aws("PutItem", other)),
                },
                Err(other) if round < WRITE_ROUNDS && may_succeed_later(&other) => {}
                Err(other) => return Err(aws("PutItem", other)),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << round)).await;
        }
    }

    /// `consistent` costs twice the read; the worker wants it, a status page does not.
    pub async fn get(&self, id: &str, consistent: bool) -> Result<Option<Job>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::job_pk(id)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| aws("GetItem", e))?;
        out.item().map(|item| decode(id, item)).transpose()
    }

    /// Start a run: `queued`/`retrying` (or `processing` under an expired lease) -> `processing`,
    /// counting the attempt and taking a lease until `lease_until`. Never succeeds twice at once.
    #[instrument(skip_all, fields(job_id = %id, generation))]
    pub async fn claim(
        &self,
        id: &str,
        generation: u64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let status = w.name("status");
        let lease = w.name("lease_ms");
        let attempts = w.name("attempts");
        let max_attempts = w.name("max_attempts");
        let gen_name = w.name("gen");
        let claimable = w.status_in(&JobStatus::sources(JobEvent::Claim));
        let processing = w.value(s(JobStatus::Processing.as_str()));
        let gen_value = w.value(n(generation));
        let now_ms = w.value(n(now.timestamp_millis()));
        w.condition(format!(
            "{gen_name} = {gen_value} AND {attempts} < {max_attempts} AND ({claimable} OR ({status} = {processing} AND {lease} < {now_ms}))"
        ));
        w.set_status(id, JobStatus::Processing);
        let one = w.value(n(1));
        w.set_expr(format!("{attempts} = {attempts} + {one}"));
        w.set("lease_ms", n(lease_until.timestamp_millis()));
        w.set("started_at", time(now));
        let item = self
            .update(id, w, "UpdateItem(claim)", |current| {
                classify_refusal(current, Some(JobEvent::Claim), Some(generation), None, now)
            })
            .await?;
        decode(id, &item)
    }

    /// Record progress of the run `attempt`. Fails with `Conflict::NotOwner` once the job was
    /// cancelled or taken over: that is how a running handler learns it must stop.
    pub async fn progress(&self, id: &str, attempt: u32, update: &ProgressUpdate) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.owned_by(attempt);
        w.set_progress(update);
        self.update_owned(id, attempt, w, "UpdateItem(progress)").await.map(drop)
    }

    /// Extend the run's lease (long jobs, with their message's visibility).
    pub async fn renew_lease(
        &self,
        id: &str,
        attempt: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut w = Write::default();
        w.owned_by(attempt);
        w.set("lease_ms", n(lease_until.timestamp_millis()));
        self.update_owned(id, attempt, w, "UpdateItem(lease)").await.map(drop)
    }

    /// End the run of `job` (as returned by `claim`) with `outcome`; `pending` is the run's last
    /// progress report not yet written, folded into this same write.
    #[instrument(skip_all, fields(job_id = %job.id, attempt = job.attempts))]
    pub async fn finish(
        &self,
        job: &Job,
        outcome: RunOutcome,
        pending: Option<&ProgressUpdate>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let to = JobStatus::Processing.apply(outcome.event()).map_err(|e| StoreError::InvalidTransition {
            id: job.id.clone(),
            from: e.from,
            event: e.event,
        })?;
        let mut w = Write::default();
        w.owned_by(job.attempts);
        w.set_status(&job.id, to);
        w.remove("lease_ms");
        // A success is 100% whatever was reported last; step and message still carry over.
        let completed = matches!(outcome, RunOutcome::Completed { .. });
        match pending {
            Some(update) if completed => w.set_progress(&ProgressUpdate { percent: 100, ..update.clone() }),
            Some(update) => w.set_progress(update),
            None if completed => w.set("progress", n(100)),
            None => {}
        }
        if let Some(started) = job.started_at {
            w.set("duration_ms", n((now - started).num_milliseconds().max(0)));
            w.set("wait_ms", n((started - job.due_at()).num_milliseconds().max(0)));
        }
        match outcome {
            RunOutcome::Completed { result } => {
                w.set_opt_json("result", result.as_ref());
                w.remove("error");
            }
            RunOutcome::Partial { result, error } => {
                w.set_opt_json("result", result.as_ref());
                w.set("error", codec::json(&error));
            }
            RunOutcome::Retrying { error, run_at } => {
                w.set("error", codec::json(&error));
                w.set("run_at", time(run_at));
            }
            RunOutcome::Failed { error } => {
                w.set("error", codec::json(&error));
            }
        }
        if to.is_terminal() {
            self.set_terminal(&mut w, now);
        }
        let item = self.update_owned(&job.id, job.attempts, w, "UpdateItem(finish)").await?;
        decode(&job.id, &item)
    }

    /// Cancel a job that has not ended. A running handler sees it at its next progress write.
    #[instrument(skip_all, fields(job_id = %id))]
    pub async fn cancel(&self, id: &str, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let allowed = w.status_in(&JobStatus::sources(JobEvent::Cancel));
        w.condition(allowed);
        w.set_status(id, target(JobEvent::Cancel));
        w.remove("lease_ms");
        self.set_terminal(&mut w, now);
        self.transition(id, JobEvent::Cancel, w, now).await
    }

    /// Fail a job that has not ended, whatever it was doing (dead letters, poison, crashes).
    #[instrument(skip_all, fields(job_id = %id))]
    pub async fn fail(&self, id: &str, error: &JobFailure, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let allowed = w.status_in(&JobStatus::sources(JobEvent::Fail));
        w.condition(allowed);
        w.set_status(id, target(JobEvent::Fail));
        w.set("error", codec::json(error));
        w.remove("lease_ms");
        self.set_terminal(&mut w, now);
        self.transition(id, JobEvent::Fail, w, now).await
    }

    /// Another go for a failed, partial or cancelled job: fresh attempts and a new generation, so
    /// messages of the earlier life are dropped. The caller sends the new envelope.
    #[instrument(skip_all, fields(job_id = %id))]
    pub async fn retry(
        &self,
        id: &str,
        priority: Option<Priority>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let allowed = w.status_in(&JobStatus::sources(JobEvent::Retry));
        w.condition(allowed);
        w.set_status(id, target(JobEvent::Retry));
        w.set("attempts", n(0));
        w.set("progress", n(0));
        let gen_name = w.name("gen");
        let one = w.value(n(1));
        w.set_expr(format!("{gen_name} = {gen_name} + {one}"));
        if let Some(priority) = priority {
            w.set("priority", n(priority.value()));
            w.set("tier", s(priority.tier().as_str()));
        }
        for attr in [
            "error",
            "result",
            "completed_at",
            "started_at",
            "duration_ms",
            "wait_ms",
            TTL_ATTRIBUTE,
            "run_at",
            "current_step",
            "message",
            "lease_ms",
        ] {
            w.remove(attr);
        }
        self.transition(id, JobEvent::Retry, w, now).await
    }

    /// Jobs matching `query`, newest first, `limit` at most, continuing after `cursor`.
    pub async fn list(
        &self,
        query: &ListQuery,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, StoreError> {
        let limit = limit.max(1);
        let below = cursor.map(decode_cursor).transpose()?;
        let plan = query.plan();
        let (below, type_filter) = (below.as_deref(), plan.index_type_filter.as_deref());
        // Owned partition keys in the stream keep the future Send for any caller.
        let parts: Vec<PartitionPage> = futures::stream::iter(plan.partitions.clone())
            .map(|partition: String| async move {
                self.query_partition(&plan.index, &partition, below, type_filter, limit).await
            })
            .buffered(LIST_FANOUT)
            .try_collect()
            .await?;
        let (sort_keys, next) = merge_page(parts, limit);
        let ids: Vec<String> =
            sort_keys.iter().filter_map(|sk| sk.split_once('#').map(|(_, id)| id.to_owned())).collect();
        let jobs = self
            .batch_get(&ids)
            .await?
            .into_iter()
            .filter(|job| plan.post_status.is_none_or(|s| job.status == s))
            .filter(|job| plan.post_type.as_ref().is_none_or(|t| &job.job_type == t))
            .collect();
        Ok(Page { jobs, next_cursor: next.as_deref().map(encode_cursor) })
    }

    /// Full jobs for `ids`, in the same order; ids with no item are left out.
    pub async fn batch_get(&self, ids: &[String]) -> Result<Vec<Job>, StoreError> {
        let keys = ids.iter().map(|id| HashMap::from([(PK.to_owned(), s(keys::job_pk(id)))])).collect();
        let mut found: HashMap<String, Job> = HashMap::with_capacity(ids.len());
        for item in self.batch_get_items(keys).await? {
            if let Some(AttributeValue::S(id)) = item.get("id") {
                found.insert(id.clone(), decode(id, &item)?);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// BatchGetItem in chunks of 100, retrying the keys DynamoDB leaves unprocessed under load.
    async fn batch_get_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = chunk.to_vec();
            for round in 0..8u32 {
                if pending.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(|e| aws("BatchGetItem", e))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| aws("BatchGetItem", e))?;
                items.extend(out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten().cloned());
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(aws("BatchGetItem", "keys left unprocessed after retries"));
            }
        }
        Ok(items)
    }

    pub async fn pause_flags(&self) -> Result<PauseFlags, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(PAUSE_PK))
            .send()
            .await
            .map_err(|e| aws("GetItem(pause)", e))?;
        Ok(flags_from(out.item()))
    }

    /// Pause (`paused = true`) or resume one scope; returns the flags after the change.
    pub async fn set_paused(&self, scope: &PauseScope, paused: bool) -> Result<PauseFlags, StoreError> {
        let action = if paused { "ADD" } else { "DELETE" };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(PAUSE_PK))
            .update_expression(format!("{action} #scopes :scope"))
            .expression_attribute_names("#scopes", PAUSE_SCOPES)
            .expression_attribute_values(":scope", AttributeValue::Ss(vec![scope.to_string()]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| aws("UpdateItem(pause)", e))?;
        Ok(flags_from(out.attributes()))
    }

    /// Put many new jobs without idempotency keys (fresh ids cannot collide), 25 to a request.
    /// Jobs with a key need the conditional `create` instead.
    pub async fn create_many(&self, jobs: &[Job]) -> Result<(), StoreError> {
        for chunk in jobs.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|job| {
                    let put = PutRequest::builder().set_item(Some(codec::encode(job))).build();
                    put.map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| aws("BatchWriteItem", e))
                })
                .collect::<Result<_, _>>()?;
            // UnprocessedItems come back under load; retry them with a short backoff.
            for round in 0..8u32 {
                if requests.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(|e| aws("BatchWriteItem", e))?;
                requests =
                    out.unprocessed_items().and_then(|u| u.get(&self.table)).cloned().unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(aws("BatchWriteItem", "items left unprocessed after retries"));
            }
        }
        Ok(())
    }

    /// Remove a job that never started (an enqueue whose message could not be sent), so a failed
    /// enqueue leaves nothing behind. Refused once anything has happened to the job.
    pub async fn delete_unstarted(&self, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(keys::job_pk(id)))
            .condition_expression("#status = :queued AND #attempts = :zero")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound { id: id.to_owned() })
            }
            Err(e) => Err(aws("DeleteItem", e)),
        }
    }

    /// An external executor's report (e.g. a GitHub Actions workflow doing the work): optimistic,
    /// conditional on the status and generation read, so a concurrent change is refused.
    pub async fn apply_external(
        &self,
        current: &Job,
        update: &ExternalUpdate,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let status = w.name("status");
        let gen_name = w.name("gen");
        let expected_status = w.value(s(current.status.as_str()));
        let expected_gen = w.value(n(current.generation));
        w.condition(format!("{status} = {expected_status} AND {gen_name} = {expected_gen}"));
        if let Some(event) = update.event {
            let to = current.status.apply(event).map_err(|e| StoreError::InvalidTransition {
                id: current.id.clone(),
                from: e.from,
                event: e.event,
            })?;
            w.set_status(&current.id, to);
            match event {
                JobEvent::Claim => {
                    w.set("attempts", n(current.attempts + 1));
                    w.set("started_at", time(now));
                    w.set("wait_ms", n((now - current.due_at()).num_milliseconds().max(0)));
                }
                JobEvent::Retry => {
                    w.set("attempts", n(0));
                    w.set("gen", n(current.generation + 1));
                    for attr in
                        ["result", "completed_at", "started_at", "duration_ms", "wait_ms", TTL_ATTRIBUTE]
                    {
                        w.remove(attr);
                    }
                    if update.error.is_none() {
                        w.remove("error");
                    }
                }
                _ => {}
            }
            if to.is_terminal() {
                self.set_terminal(&mut w, now);
                w.remove("lease_ms");
                if let Some(started) = current.started_at {
                    w.set("duration_ms", n((now - started).num_milliseconds().max(0)));
                }
                if to == JobStatus::Completed && update.progress.is_none() {
                    w.set("progress", n(100));
                }
            }
        } else if current.status.is_terminal() {
            return Err(StoreError::InvalidTransition {
                id: current.id.clone(),
                from: current.status,
                event: JobEvent::Complete,
            });
        }
        if let Some(progress) = update.progress {
            w.set("progress", n(progress.min(100)));
        }
        if let Some(step) = &update.current_step {
            w.set("current_step", s(step));
        }
        if let Some(message) = &update.message {
            w.set("message", s(message));
        }
        if let Some(result) = &update.result {
            w.set("result", codec::json(result));
        }
        if let Some(error) = &update.error {
            w.set("error", codec::json(error));
        }
        if let Some(run_id) = &update.github_workflow_run_id {
            w.set("gh_run_id", s(run_id));
        }
        if w.sets.is_empty() {
            return Ok(current.clone());
        }
        let id = current.id.clone();
        let item = self.update(&id, w, "UpdateItem(external)", changed).await?;
        decode(&id, &item)
    }

    /// How many jobs have `status` (of `job_type`, when given): a count query per index shard.
    pub async fn count(&self, status: JobStatus, job_type: Option<&str>) -> Result<u64, StoreError> {
        let counts: Vec<u64> = futures::stream::iter(keys::all_shards(status.as_str()))
            .map(|partition| async move {
                let mut total = 0u64;
                let mut start: Option<Item> = None;
                loop {
                    let mut q = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(BY_STATUS.name)
                        .select(aws_sdk_dynamodb::types::Select::Count)
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", BY_STATUS.pk)
                        .expression_attribute_values(":pk", s(&partition))
                        .set_exclusive_start_key(start.take());
                    if let Some(t) = job_type {
                        q = q
                            .filter_expression("#type = :type")
                            .expression_attribute_names("#type", "type")
                            .expression_attribute_values(":type", s(t));
                    }
                    let out = q.send().await.map_err(|e| aws("Query(count)", e))?;
                    total += out.count() as u64;
                    match out.last_evaluated_key() {
                        Some(key) => start = Some(key.clone()),
                        None => return Ok::<u64, StoreError>(total),
                    }
                }
            })
            .buffer_unordered(LIST_FANOUT)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }

    /// Counters of several job types in one BatchGetItem (types with none are left out).
    pub async fn stats_for(&self, job_types: &[String]) -> Result<Vec<(String, TypeStats)>, StoreError> {
        let keys = job_types.iter().map(|t| HashMap::from([(PK.to_owned(), s(keys::stats_pk(t)))])).collect();
        let mut found: Vec<(String, TypeStats)> = self
            .batch_get_items(keys)
            .await?
            .iter()
            .filter_map(|item| match item.get("type") {
                Some(AttributeValue::S(job_type)) => Some((job_type.clone(), stats_from(item))),
                _ => None,
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// `scheduled` -> `queued` once due (within SQS's delay reach); the caller sends the message.
    pub async fn release(&self, id: &str, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let allowed = w.status_in(&JobStatus::sources(JobEvent::Release));
        w.condition(allowed);
        w.set_status(id, target(JobEvent::Release));
        self.transition(id, JobEvent::Release, w, now).await
    }

    /// A `processing` job whose lease ended before `expired_before` and that no delivery took
    /// over: back to `retrying`, due now; the caller sends its message again.
    pub async fn recover(
        &self,
        id: &str,
        expired_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let allowed = w.status_in(&JobStatus::sources(JobEvent::Recover));
        let lease = w.name("lease_ms");
        let threshold = w.value(n(expired_before.timestamp_millis()));
        w.condition(format!("{allowed} AND {lease} < {threshold}"));
        w.set_status(id, target(JobEvent::Recover));
        w.set("run_at", time(now));
        w.remove("lease_ms");
        self.transition(id, JobEvent::Recover, w, now).await
    }

    /// Note that a `queued` job's message is being sent again, unless that was done after
    /// `not_since` (so each lost job is re-sent once per period, not once per scheduler run).
    pub async fn mark_resent(
        &self,
        id: &str,
        not_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let mut w = Write::default();
        let status = w.name("status");
        let queued = w.value(s(JobStatus::Queued.as_str()));
        let resent = w.name("resent_ms");
        let threshold = w.value(n(not_since.timestamp_millis()));
        w.condition(format!(
            "{status} = {queued} AND (attribute_not_exists({resent}) OR {resent} < {threshold})"
        ));
        w.set("resent_ms", n(now.timestamp_millis()));
        let item = self.update(id, w, "UpdateItem(resent)", changed).await?;
        decode(id, &item)
    }

    /// The oldest jobs in `status`: up to `per_shard` from each index shard, oldest first. For
    /// the scheduler's sweeps, where old jobs matter most.
    pub async fn oldest(&self, status: JobStatus, per_shard: usize) -> Result<Vec<Job>, StoreError> {
        let limit = i32::try_from(per_shard.max(1)).unwrap_or(i32::MAX);
        let ids: Vec<Vec<String>> = futures::stream::iter(keys::all_shards(status.as_str()))
            .map(|partition: String| async move {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(BY_STATUS.name)
                    .scan_index_forward(true)
                    .limit(limit)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", BY_STATUS.pk)
                    .expression_attribute_values(":pk", s(&partition))
                    .send()
                    .await
                    .map_err(|e| aws("Query(oldest)", e))?;
                Ok::<_, StoreError>(
                    out.items()
                        .iter()
                        .filter_map(|item| match item.get(PK) {
                            Some(AttributeValue::S(pk)) => keys::id_from_pk(pk).map(str::to_owned),
                            _ => None,
                        })
                        .collect(),
                )
            })
            .buffer_unordered(LIST_FANOUT)
            .try_collect()
            .await?;
        let ids: Vec<String> = ids.into_iter().flatten().collect();
        let mut jobs = self.batch_get(&ids).await?;
        jobs.retain(|j| j.status == status);
        jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(jobs)
    }

    /// Add a batch's counters, once: one UpdateItem per job type in the batch, each conditional
    /// on the item's last number from `writer` being below `seq` (and setting it to `seq`). A
    /// retry of a write that took effect (its response lost) is refused by that condition, so a
    /// count is never added twice. `seq` must grow with each call of one writer, and one writer's
    /// calls must not overlap ([`super::StatsWriter`] sees to both). `forget` lists, per type,
    /// writers to drop from the item; the result lists, per type written, writers not heard from
    /// for [`STALE_WRITER`] (so the item does not grow with every worker that ever ran).
    pub async fn add_stats(
        &self,
        batch: &BatchStats,
        writer: &str,
        seq: u64,
        forget: &BTreeMap<String, Vec<String>>,
    ) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let stale_before = seq.saturating_sub(STALE_WRITER.num_milliseconds().max(0) as u64);
        let writer_attribute = format!("{WRITER_PREFIX}{writer}");
        let updates = batch.by_type.iter().map(|(job_type, stats)| {
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(keys::stats_pk(job_type)))
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":type", s(job_type))
                .expression_attribute_names("#w", &writer_attribute)
                .expression_attribute_values(":seq", n(seq))
                .condition_expression("attribute_not_exists(#w) OR #w < :seq")
                .return_values(ReturnValue::AllNew);
            let mut adds = Vec::new();
            for (i, (field, value)) in TypeStats::FIELDS.iter().zip(stats.values()).enumerate() {
                if value > 0 {
                    adds.push(format!("#f{i} :f{i}"));
                    request = request
                        .expression_attribute_names(format!("#f{i}"), *field)
                        .expression_attribute_values(format!(":f{i}"), n(value));
                }
            }
            let mut expression = "SET #type = :type, #w = :seq".to_owned();
            if !adds.is_empty() {
                expression.push_str(&format!(" ADD {}", adds.join(", ")));
            }
            let mut gone = Vec::new();
            for (i, name) in forget.get(job_type).into_iter().flatten().enumerate() {
                if *name != writer_attribute {
                    request = request.expression_attribute_names(format!("#g{i}"), name);
                    gone.push(format!("#g{i}"));
                }
            }
            if !gone.is_empty() {
                expression.push_str(&format!(" REMOVE {}", gone.join(", ")));
            }
            let request = request.update_expression(expression);
            async move {
                match request.send().await {
                    Ok(out) => Ok((job_type.clone(), stale_writers(out.attributes(), stale_before))),
                    // Our number is already there: this write took effect before.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        Ok((job_type.clone(), Vec::new()))
                    }
                    Err(e) => Err(aws("UpdateItem(stats)", e)),
                }
            }
        });
        Ok(futures::future::try_join_all(updates).await?.into_iter().collect())
    }

    pub async fn stats(&self, job_type: &str) -> Result<TypeStats, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::stats_pk(job_type)))
            .send()
            .await
            .map_err(|e| aws("GetItem(stats)", e))?;
        Ok(out.item().map(stats_from).unwrap_or_default())
    }

    async fn query_partition(
        &self,
        index: &keys::IndexDef,
        partition: &str,
        below: Option<&str>,
        type_filter: Option<&str>,
        limit: usize,
    ) -> Result<PartitionPage, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", s(partition));
        let mut key_condition = "#pk = :pk".to_owned();
        if let Some(below) = below {
            key_condition.push_str(" AND #sk < :below");
            q = q.expression_attribute_names("#sk", index.sk).expression_attribute_values(":below", s(below));
        }
        if let Some(job_type) = type_filter {
            q = q
                .filter_expression("#type = :type")
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":type", s(job_type));
        }
        let out = q.key_condition_expression(key_condition).send().await.map_err(|e| aws("Query", e))?;
        let sort_key = |item: &Item| match item.get(index.sk) {
            Some(AttributeValue::S(sk)) => Some(sk.clone()),
            _ => None,
        };
        Ok(PartitionPage {
            sort_keys: out.items().iter().filter_map(sort_key).collect(),
            stopped_at: out.last_evaluated_key().and_then(sort_key),
        })
    }

    fn set_terminal(&self, w: &mut Write, now: DateTime<Utc>) {
        w.set("completed_at", time(now));
        w.set(TTL_ATTRIBUTE, n((now + self.retention).timestamp()));
    }

    /// A status change whose refusal is explained by the current status.
    async fn transition(
        &self,
        id: &str,
        event: JobEvent,
        w: Write,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let item = self
            .update(id, w, "UpdateItem", |current| classify_refusal(current, Some(event), None, None, now))
            .await?;
        decode(id, &item)
    }

    /// A write by the run `attempt`, refused once the job is no longer that run's.
    async fn update_owned(
        &self,
        id: &str,
        attempt: u32,
        w: Write,
        op: &'static str,
    ) -> Result<Item, StoreError> {
        self.update(id, w, op, |current| classify_refusal(current, None, None, Some(attempt), Utc::now()))
            .await
    }

    async fn update(
        &self,
        id: &str,
        mut w: Write,
        operation: &'static str,
        refusal: impl FnOnce(Job) -> StoreError,
    ) -> Result<Item, StoreError> {
        let token = write_token();
        w.set(WRITE_TOKEN, s(&token));
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::job_pk(id)))
            .update_expression(w.update_expression())
            .condition_expression(w.conditions.join(" AND "))
            .set_expression_attribute_names(Some(w.names))
            .set_expression_attribute_values(Some(w.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut round = 0;
        loop {
            round += 1;
            match request.clone().send().await {
                Ok(out) => return Ok(out.attributes.unwrap_or_default()),
                Err(SdkError::ServiceError(err)) => match err.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => {
                        return match e.item() {
                            // An earlier attempt of this same request took effect and its response
                            // was lost: the item is as our write left it.
                            Some(item) if is_ours(item, &token) => Ok(item.clone()),
                            Some(item) => Err(refusal(decode(id, item)?)),
                            None => Err(StoreError::NotFound { id: id.to_owned() }),
                        };
                    }
                    other if round < WRITE_ROUNDS && update_may_succeed_later(&other) => {}
                    other => return Err(aws(operation, other)),
                },
                Err(other) if round < WRITE_ROUNDS && may_succeed_later(&other) => {}
                Err(other) => return Err(aws(operation, other)),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << round)).await;
        }
    }
}

/// Sends of one job write (each with the SDK's own retries), with the same write token: after an
/// ambiguous failure (the SDK gave up, but an attempt may have taken effect) only a resend of the
/// same request can tell, by finding its own token.
const WRITE_ROUNDS: u32 = 3;

/// A failure with no answer from DynamoDB (connection lost, timeout, unreadable response).
fn may_succeed_later<E, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_))
}

fn update_may_succeed_later(err: &UpdateItemError) -> bool {
    err.is_internal_server_error()
        || err.is_provisioned_throughput_exceeded_exception()
        || err.is_request_limit_exceeded()
        || err.is_throttling_exception()
}

fn put_may_succeed_later(err: &PutItemError) -> bool {
    err.is_internal_server_error()
        || err.is_provisioned_throughput_exceeded_exception()
        || err.is_request_limit_exceeded()
        || err.is_throttling_exception()
}

/// Whether `item` was last written by the request that carried `token`.
fn is_ours(item: &Item, token: &str) -> bool {
    matches!(item.get(WRITE_TOKEN), Some(AttributeValue::S(t)) if t == token)
}

/// The refusal of an optimistic write: the job is no longer as it was read.
fn changed(current: Job) -> StoreError {
    StoreError::Conflict { id: current.id.clone(), reason: Conflict::Changed, current: Box::new(current) }
}

/// The status an event leads to (the same from every source that allows it).
fn target(event: JobEvent) -> JobStatus {
    JobStatus::sources(event).first().and_then(|from| from.apply(event).ok()).unwrap_or(JobStatus::Failed)
}

fn decode(id: &str, item: &Item) -> Result<Job, StoreError> {
    codec::decode(item).map_err(|source| StoreError::Corrupt { id: id.to_owned(), source })
}

/// Attributes of a stats item that hold a writer's last applied number.
const WRITER_PREFIX: &str = "w_";
/// A writer silent this long is dropped from the stats items it wrote to.
pub const STALE_WRITER: Duration = Duration::hours(24);
/// Writers dropped per type in one stats write, at most.
const FORGET_MAX: usize = 16;

/// Writer attributes of a stats item whose last number (a time in ms) is below `before`.
fn stale_writers(item: Option<&Item>, before: u64) -> Vec<String> {
    let mut stale: Vec<String> = item
        .into_iter()
        .flatten()
        .filter(|(name, value)| {
            name.starts_with(WRITER_PREFIX)
                && matches!(value, AttributeValue::N(v) if v.parse::<u64>().is_ok_and(|seq| seq < before))
        })
        .map(|(name, _)| name.clone())
        .collect();
    stale.sort();
    stale.truncate(FORGET_MAX);
    stale
}

/// A stats item's counters (missing ones are 0).
fn stats_from(item: &Item) -> TypeStats {
    let mut values = [0u64; 7];
    for (slot, field) in values.iter_mut().zip(TypeStats::FIELDS) {
        if let Some(AttributeValue::N(v)) = item.get(field) {
            *slot = v.parse().unwrap_or(0);
        }
    }
    TypeStats::from_values(values)
}

fn flags_from(item: Option<&Item>) -> PauseFlags {
    let scopes = match item.and_then(|i| i.get(PAUSE_SCOPES)) {
        Some(AttributeValue::Ss(scopes)) => scopes.as_slice(),
        _ => &[],
    };
    PauseFlags {
        paused: scopes
            .iter()
            .filter_map(|s| {
                s.parse().map_err(|e| tracing::warn!(error = %e, "ignoring stored pause scope")).ok()
            })
            .collect(),
    }
}

fn aws(operation: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Aws { operation, source: crate::aws::with_context(source.into()) }
}

/// An UpdateItem under construction: every attribute goes through a placeholder, since many of
/// ours (`status`, `type`, `result`, ...) are DynamoDB reserved words.
#[derive(Debug, Default)]
struct Write {
    sets: Vec<String>,
    removes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Write {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attribute: &str, value: AttributeValue) {
        let name = self.name(attribute);
        let value = self.value(value);
        self.sets.push(format!("{name} = {value}"));
    }

    fn set_progress(&mut self, update: &ProgressUpdate) {
        self.set("progress", n(update.percent.min(100)));
        if let Some(step) = &update.step {
            self.set("current_step", s(step));
        }
        if let Some(message) = &update.message {
            self.set("message", s(message));
        }
    }

    fn set_opt_json(&mut self, attribute: &str, value: Option<&serde_json::Value>) {
        match value {
            Some(v) => self.set(attribute, codec::json(v)),
            None => self.remove(attribute),
        }
    }

    fn set_expr(&mut self, expression: String) {
        self.sets.push(expression);
    }

    /// The status and its (sharded) index key move together.
    fn set_status(&mut self, id: &str, status: JobStatus) {
        self.set("status", s(status.as_str()));
        self.set(BY_STATUS.pk, s(keys::status_pk(status, id)));
    }

    fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.removes.push(name);
    }

    fn condition(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// `#status IN (...)`, for the caller to place in a condition.
    fn status_in(&mut self, statuses: &[JobStatus]) -> String {
        let name = self.name("status");
        let values: Vec<String> = statuses.iter().map(|st| self.value(s(st.as_str()))).collect();
        format!("{name} IN ({})", values.join(", "))
    }

    /// Still `processing` in the run that counted `attempt`.
    fn owned_by(&mut self, attempt: u32) {
        let status = self.name("status");
        let attempts = self.name("attempts");
        let processing = self.value(s(JobStatus::Processing.as_str()));
        let attempt = self.value(n(attempt));
        self.condition(format!("{status} = {processing} AND {attempts} = {attempt}"));
    }

    fn update_expression(&self) -> String {
        let mut expression = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        expression
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_transition_function() {
        assert_eq!(target(JobEvent::Cancel), JobStatus::Cancelled);
        assert_eq!(target(JobEvent::Retry), JobStatus::Queued);
        assert_eq!(target(JobEvent::Fail), JobStatus::Failed);
        assert_eq!(target(JobEvent::Claim), JobStatus::Processing);
    }

    #[test]
    fn writes_use_placeholders_for_every_attribute() {
        let mut w = Write::default();
        w.owned_by(2);
        w.set_status("id1", JobStatus::Completed);
        w.remove("lease_ms");
        let expression = w.update_expression();
        assert_eq!(expression, "SET #status = :v2, #s_pk = :v3 REMOVE #lease_ms");
        assert_eq!(w.conditions, ["#status = :v0 AND #attempts = :v1"]);
        assert_eq!(w.values.get(":v1"), Some(&n(2)));
        assert_eq!(w.names.get("#s_pk").map(String::as_str), Some("s_pk"));
    }
}
