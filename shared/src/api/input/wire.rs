//! The request bodies and query strings as clients send them: the OpenAPI document's schemas
//! are derived from these types (utoipa), and the tests of this module hold the readers to them.
//!
//! The readers (`job.rs`, `operations.rs`) check a body field by field rather than deserialize it
//! into these types, so that every refusal names its field (`jobs[3].next[0].type`), in a fixed
//! order, with the status that fits (413 for a payload, 422 for a value). Each type derives
//! `Deserialize` too: the tests check that every body a reader accepts is one of these.
//!
//! Limits in `#[schema(...)]` are literals (utoipa takes no constants there); a test checks each
//! against the constant the readers use.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::domain::model::JobFailure;
use crate::domain::priority::Priority;
use crate::domain::status::JobStatus;
use crate::store::PauseScope;

/// A job to enqueue (`POST /jobs`, each of a batch's `jobs`). Optional fields may also be null,
/// which is the same as leaving them out.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewJob)]
pub struct JobSpec {
    /// A registered job type.
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 128, examples("echo", "noop"))]
    pub job_type: String,
    /// Its type's input; left out, it is null.
    #[serde(default)]
    pub payload: Value,
    pub priority: Option<Priority>,
    /// A job enqueued again with the same key is the one made the first time.
    #[schema(min_length = 1, max_length = 256)]
    pub idempotency_key: Option<String>,
    /// Seconds to wait before it runs; or `run_at`, not both.
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub delay_seconds: Option<u32>,
    /// When it runs: at most 31536000 seconds ahead, as delay_seconds.
    #[serde(default, with = "crate::domain::model::rfc3339::option")]
    pub run_at: Option<DateTime<Utc>>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_attempts: Option<u32>,
    #[schema(minimum = 1, maximum = 900)]
    pub timeout_seconds: Option<u32>,
    #[schema(min_length = 1, max_length = 128)]
    pub batch_id: Option<String>,
    pub github_workflow_run_id: Option<RunId>,
    /// The pipeline's later steps, each enqueued when the one before it completes.
    #[schema(max_items = 20)]
    pub next: Option<Vec<StepSpec>>,
    /// Whom the job is for: the caller when left out; only an admin may name another owner.
    #[schema(min_length = 1, max_length = 256)]
    pub owner: Option<String>,
    /// A set of jobs its owner lists together (`channel:abc`, `book:123`).
    #[schema(min_length = 1, max_length = 128)]
    pub group: Option<String>,
}

/// A step of a pipeline: a job spec without a `next` or an `owner` of its own. The readers read it as a
/// [`JobSpec`] that may not have one, and so its schema is `NewJob`'s without `next` (built here,
/// as utoipa derives no schema from another).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct StepSpec(pub JobSpec);

impl PartialSchema for StepSpec {
    fn schema() -> RefOr<Schema> {
        let mut schema = JobSpec::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.remove("next");
            object.properties.remove("owner");
            object.description =
                Some("A step of a pipeline: a job spec without a next or an owner of its own.".into());
        }
        schema
    }
}

/// Refers to no schema `NewJob` does not (and `NewJob` refers to this: collecting its schemas
/// here would go round for ever).
impl ToSchema for StepSpec {
    fn name() -> std::borrow::Cow<'static, str> {
        "NewStep".into()
    }
}

/// A GitHub Actions run id: a whole number, or a string of 1 to 64 characters (kept as a string).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RunId {
    Number(u64),
    Text(String),
}

/// Written by hand: utoipa's schema of an untagged enum is a `oneOf` whose variants cannot carry
/// length limits.
impl PartialSchema for RunId {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
            .item(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(64)))
            .into()
    }
}

impl ToSchema for RunId {}

/// `POST /jobs/batch`: up to 100 jobs, enqueued all or none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    #[schema(min_items = 1, max_items = 100)]
    pub jobs: Vec<JobSpec>,
    /// The batch's id (made up when left out); its jobs carry none of their own.
    #[schema(min_length = 1, max_length = 128)]
    pub batch_id: Option<String>,
}

/// `POST /jobs/{id}/retry`: the body may be left out, or null.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryJobBody {
    /// The priority of the new attempts; left out, the job's own.
    pub priority: Option<Priority>,
}

/// `POST /jobs/retry`: every job of a status (and a type) queued again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetry {
    pub status: RetriableStatus,
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 128)]
    pub job_type: Option<String>,
}

/// The statuses a retry starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetriableStatus {
    Failed,
    Partial,
    Cancelled,
}

/// `PATCH /jobs/{id}`: what an external executor reports. Fields may also be null, which is the
/// same as leaving them out.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExternalUpdate)]
pub struct ExternalReport {
    pub status: Option<ReportedStatus>,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<u8>,
    #[schema(min_length = 1, max_length = 256)]
    pub current_step: Option<String>,
    #[schema(min_length = 1, max_length = 2048)]
    pub message: Option<String>,
    pub result: Option<Value>,
    pub error: Option<ReportedError>,
    pub github_workflow_run_id: Option<RunId>,
}

/// The statuses an external executor may report, each the event it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportedStatus {
    Processing,
    Completed,
    Partial,
    Failed,
    Cancelled,
    Queued,
}

/// Why the run failed: a message, or a message with details.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ReportedError {
    Message(String),
    Failure(JobFailure),
}

/// `POST /pause`, `POST /resume`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub scope: PauseScope,
}

/// A job or batch id in a path: longer ones are refused (400) before any read.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdParam {
    #[param(min_length = 1, max_length = 128)]
    pub id: String,
}

/// `GET /jobs`: filters, any combination, and the page.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<JobStatus>,
    #[serde(rename = "type")]
    #[param(max_length = 128)]
    pub job_type: Option<String>,
    #[param(max_length = 128)]
    pub batch_id: Option<String>,
    /// Only this owner's jobs (a submitter sees only its own, whatever it asks).
    #[param(max_length = 256)]
    pub owner: Option<String>,
    /// Only jobs of this group.
    #[param(max_length = 128)]
    pub group: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    /// `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// `GET /stats`: one job type's figures only.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    #[serde(rename = "type")]
    pub job_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use serde_json::json;

    use super::super::job::JOB_FIELDS;
    use super::super::operations::LIST_PARAMS;
    use super::super::{Rules, batch, bulk_retry, external_update, id, list_query, new_job, retry, scope};
    use super::*;
    use crate::api::error::ApiError;
    use crate::domain::model::parse_time;
    use crate::domain::payload::JobTypes;

    fn rules() -> Rules<'static> {
        static TYPES: LazyLock<JobTypes> =
            LazyLock::new(|| crate::domain::task::Registry::with_builtins().job_types());
        Rules {
            max_payload_bytes: super::super::DEFAULT_MAX_PAYLOAD_BYTES,
            job_types: &TYPES,
            now: parse_time("2026-01-01T00:00:00Z").expect("time"),
        }
    }

    fn schema_of<T: ToSchema>() -> Value {
        serde_json::to_value(T::schema()).expect("a schema is JSON")
    }

    /// What a reader made of a body: taken, or refused naming a field.
    type Read = dyn Fn(&Value) -> Result<(), ApiError>;

    fn read_spec(body: &Value) -> Result<(), ApiError> {
        new_job(body, "", &rules(), 0).map(drop)
    }

    /// The values at each limit `schema` states for a property (taken) and just past it
    /// (refused). Strings of `é`: limits count characters, not bytes.
    fn edges(property: &Value) -> Vec<(Value, bool)> {
        let mut edges = Vec::new();
        if let Some(max) = property["maxLength"].as_u64() {
            let max = max as usize;
            edges.extend([(json!("é".repeat(max)), true), (json!("é".repeat(max + 1)), false)]);
        }
        if property["minLength"] == json!(1) {
            edges.push((json!(""), false));
        }
        if let Some(max) = property["maximum"].as_i64() {
            edges.extend([(json!(max), true), (json!(max + 1), false)]);
        }
        if let Some(min) = property["minimum"].as_i64() {
            edges.extend([(json!(min), true), (json!(min - 1), false)]);
        }
        let step = json!({"type": "noop"});
        if let Some(max) = property["maxItems"].as_u64() {
            let at = vec![step.clone(); max as usize];
            edges.extend([(json!(at), true), (json!(vec![step; max as usize + 1]), false)]);
        }
        if property["minItems"] == json!(1) {
            edges.push((json!([]), false));
        }
        edges
    }

    /// Each limit of `schema`'s properties holds in `read`: a body at it is taken, one past it
    /// refused naming the field (`untaken`: properties whose value at a limit is refused for
    /// another reason, as a job type of 128 characters is not registered).
    fn limits_hold(schema: &Value, base: &Value, untaken: &[&str], read: &Read) {
        let properties = schema["properties"].as_object().expect("properties");
        for (name, property) in properties {
            for (value, taken) in edges(property) {
                let mut body = base.clone();
                body[name] = value;
                match read(&body) {
                    Ok(()) => assert!(taken, "{name} past its limit was taken: {body}"),
                    Err(err) => {
                        assert!(!taken || untaken.contains(&name.as_str()), "{body}: {err:?}");
                        assert_eq!(err.field.as_deref(), Some(name.as_str()), "{body}: {err:?}");
                    }
                }
            }
        }
    }

    /// Every property of `schema` is a field the reader knows (none refused as unknown), and a
    /// field the schema lacks is refused as unknown, as `additionalProperties: false` says.
    fn fields_are_known(schema: &Value, base: &Value, read: &Read) {
        assert_eq!(schema["additionalProperties"], json!(false));
        for name in schema["properties"].as_object().expect("properties").keys() {
            let mut body = base.clone();
            body[name] = Value::Null;
            if let Err(err) = read(&body) {
                assert!(!err.message.contains("unknown field"), "{name}: {err:?}");
            }
        }
        let mut body = base.clone();
        body["no_such_field"] = json!(1);
        let err = read(&body).expect_err("an unknown field");
        assert_eq!(err.field.as_deref(), Some("no_such_field"));
    }

    #[test]
    fn a_job_spec_s_schema_is_what_its_reader_takes() {
        let schema = schema_of::<JobSpec>();
        let base = json!({"type": "noop"});
        let mut fields: Vec<&str> =
            schema["properties"].as_object().expect("object").keys().map(String::as_str).collect();
        let mut read: Vec<&str> = JOB_FIELDS.to_vec();
        fields.sort_unstable();
        read.sort_unstable();
        assert_eq!(fields, read);
        assert_eq!(schema["required"], json!(["type"]));
        limits_hold(&schema, &base, &["type"], &read_spec);
        fields_are_known(&schema, &base, &read_spec);
        // A step is read as a job spec without a `next` or an `owner`.
        let step = schema_of::<StepSpec>();
        assert!(step["properties"].get("next").is_none() && step["properties"].get("owner").is_none());
        assert_eq!(step["properties"].as_object().map(|p| p.len()), Some(JOB_FIELDS.len() - 2));
        let owned_step = json!({"type": "noop", "next": [{"type": "noop", "owner": "bob"}]});
        let err = read_spec(&owned_step).expect_err("a step names no owner");
        assert_eq!(err.field.as_deref(), Some("next[0].owner"));
    }

    #[test]
    fn the_other_bodies_schemas_are_what_their_readers_take() {
        let read_batch = |body: &Value| batch(body, &rules()).map(drop);
        let batch_base = json!({"jobs": [{"type": "noop"}]});
        limits_hold(&schema_of::<NewBatch>(), &batch_base, &[], &read_batch);
        fields_are_known(&schema_of::<NewBatch>(), &batch_base, &read_batch);
        let read_report = |body: &Value| external_update(body).map(drop);
        limits_hold(&schema_of::<ExternalReport>(), &json!({}), &[], &read_report);
        fields_are_known(&schema_of::<ExternalReport>(), &json!({}), &read_report);
        let read_bulk = |body: &Value| bulk_retry(body).map(drop);
        let bulk_base = json!({"status": "failed"});
        limits_hold(&schema_of::<BulkRetry>(), &bulk_base, &[], &read_bulk);
        fields_are_known(&schema_of::<BulkRetry>(), &bulk_base, &read_bulk);
        let read_scope = |body: &Value| scope(body).map(drop);
        fields_are_known(&schema_of::<Scope>(), &json!({"scope": "all"}), &read_scope);
        let read_retry = |body: &Value| retry(Some(body)).map(drop);
        fields_are_known(&schema_of::<RetryJobBody>(), &json!({}), &read_retry);
    }

    #[test]
    fn a_run_id_s_limits_are_its_reader_s() {
        let schema = schema_of::<RunId>();
        for branch in schema["anyOf"].as_array().expect("anyOf") {
            let property = json!({"properties": {"github_workflow_run_id": branch}});
            limits_hold(&property, &json!({"type": "noop"}), &[], &read_spec);
        }
    }

    #[test]
    fn the_parameters_are_what_the_readers_take() {
        let params = |all: Vec<utoipa::openapi::path::Parameter>| -> Vec<(String, Value)> {
            let all = serde_json::to_value(all).expect("JSON");
            let all = all.as_array().expect("a list").clone();
            all.into_iter()
                .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["schema"].clone()))
                .collect()
        };
        let path = params(IdParam::into_params(|| None));
        assert_eq!(path.len(), 1);
        let max = path[0].1["maxLength"].as_u64().expect("a limit") as usize;
        assert!(id(&"é".repeat(max)).is_ok() && id(&"é".repeat(max + 1)).is_err());

        let listing = params(ListParams::into_params(|| None));
        let names: Vec<&str> = listing.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, LIST_PARAMS);
        for (name, schema) in &listing {
            for (value, taken) in edges(schema) {
                let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
                let query = [(name.clone(), text)].into_iter().collect();
                assert_eq!(list_query(&query).is_ok(), taken, "{name}={value}");
            }
        }
        let stats = params(StatsParams::into_params(|| None));
        assert_eq!(stats.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["type"]);
    }
}
