//! The OpenAPI 3.1 document of the routes; a test keeps it and the router in step.

use serde_json::{Map, Value, json};

use super::input;
use crate::domain::payload::JobTypes;
use crate::domain::status::JobStatus;

/// Where each job type's payload schema is (`Payload.<type>`), and the named schemas of their
/// input types (`Input.<name>`): prefixed, so a type named `Job` or `Error` meets no schema of
/// the API's own.
const PAYLOAD_PREFIX: &str = "Payload.";
const INPUT_PREFIX: &str = "Input.";

fn error_responses(codes: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        map.insert((*code).to_owned(), json!({ "$ref": "#/components/responses/Error" }));
    }
    Value::Object(map)
}

fn with_errors(mut ok: Value, codes: &[&str]) -> Value {
    if let (Some(ok), Value::Object(errors)) = (ok.as_object_mut(), error_responses(codes)) {
        ok.extend(errors);
    }
    ok
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn returns(status: &str, description: &str, schema: &str) -> Value {
    json!({ status: { "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } })
}

/// A GitHub Actions run id: a whole number, or a string of 1 to 64 characters.
fn run_id() -> Value {
    json!({ "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "minLength": 1, "maxLength": 64 },
        { "type": "null" }
    ] })
}

/// `schema`, or null (an optional field sent as null is the same as one left out).
fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// From a created job to the operations on it (clients and fuzzers follow these).
fn job_links() -> Value {
    let link =
        |operation: &str| json!({ "operationId": operation, "parameters": { "id": "$response.body#/id" } });
    json!({ "GetJob": link("getJob"), "ReportJob": link("reportJob"), "CancelJob": link("cancelJob"), "RetryJob": link("retryJob") })
}

/// A job or batch id in a path: longer ones are refused (400) before any read.
fn id_param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1, "maxLength": input::MAX_ID_CHARS } })
}

/// The document: routes, and the schemas their bodies refer to, with each of `types`' payload
/// schema.
pub fn document(types: &JobTypes) -> Value {
    let mut paths = job_paths();
    extend(&mut paths, other_paths());
    let mut schemas = request_schemas();
    extend(&mut schemas, response_schemas());
    extend(&mut schemas, payload_schemas(types));
    for spec in ["NewJob", "NewStep"] {
        by_type(&mut schemas[spec], spec, types);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "jobq", "version": env!("CARGO_PKG_VERSION"), "description": "Priority job queue on AWS primitives." },
        "paths": paths,
        "components": {
            "responses": {
                "Error": { "description": "an error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "schemas": schemas
        }
    })
}

/// `more`'s entries added to `object`, in their order.
fn extend(object: &mut Value, more: Value) {
    if let (Some(object), Value::Object(more)) = (object.as_object_mut(), more) {
        object.extend(more);
    }
}

fn job_statuses() -> Value {
    Value::from(JobStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

fn priority_schema() -> Value {
    json!({ "oneOf": [ { "type": "integer", "minimum": 0, "maximum": 10 }, { "enum": ["high", "normal", "low"] } ] })
}

/// A job spec's fields; a pipeline's steps have all but `next` (one level only).
fn step_properties() -> Value {
    json!({
        "type": { "type": "string", "minLength": 1, "maxLength": 128, "examples": ["echo", "noop"] }, "payload": {},
        "priority": nullable(json!({ "$ref": "#/components/schemas/Priority" })),
        "idempotency_key": { "type": ["string", "null"], "minLength": 1, "maxLength": 256 },
        "delay_seconds": { "type": ["integer", "null"], "minimum": 0, "maximum": input::MAX_DELAY_SECONDS },
        "run_at": { "type": ["string", "null"], "format": "date-time", "description": format!("at most {} seconds ahead, as delay_seconds", input::MAX_DELAY_SECONDS) },
        "max_attempts": { "type": ["integer", "null"], "minimum": 1, "maximum": input::MAX_ATTEMPTS },
        "timeout_seconds": { "type": ["integer", "null"], "minimum": 1, "maximum": input::MAX_TIMEOUT_SECONDS },
        "batch_id": { "type": ["string", "null"], "minLength": 1, "maxLength": 128 },
        "github_workflow_run_id": run_id()
    })
}

fn job_properties() -> Value {
    let mut properties = step_properties();
    properties["next"] = json!({ "type": ["array", "null"], "maxItems": input::MAX_NEXT_STEPS, "items": { "$ref": "#/components/schemas/NewStep" } });
    properties
}

/// The routes of jobs: enqueue, list, read, report, cancel, retry.
fn job_paths() -> Value {
    let job_statuses = job_statuses();
    let priority = priority_schema();
    json!({
        "/jobs": {
            "post": {
                "operationId": "enqueue",
                "requestBody": body("NewJob"),
                "responses": with_errors(
                    json!({
                        "201": { "description": "created", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Job" } } }, "links": job_links() },
                        "200": { "description": "the job created earlier with this idempotency_key", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Job" } } } }
                    }),
                    &["400", "401", "413", "415", "422", "503"],
                )
            },
            "get": {
                "operationId": "listJobs",
                "parameters": [
                    { "name": "status", "in": "query", "schema": { "enum": job_statuses } },
                    { "name": "type", "in": "query", "schema": { "type": "string", "maxLength": 128 } },
                    { "name": "batch_id", "in": "query", "schema": { "type": "string", "maxLength": 128 } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 50 } },
                    { "name": "cursor", "in": "query", "schema": { "type": "string" } }
                ],
                "responses": with_errors(returns("200", "a page, newest first", "Page"), &["400", "401", "422", "503"])
            }
        },
        "/jobs/batch": {
            "post": {
                "operationId": "enqueueBatch",
                "requestBody": body("NewBatch"),
                "description": "All or nothing: 201 when every job was enqueued; 503 `batch_not_created` when this request left no job behind (send it again); 207 `batch_incomplete` when some jobs exist and others do not, each entry saying which (send again only the `not_created` ones).",
                "responses": with_errors(
                    json!({ "201": { "description": "every job enqueued", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Batch" } } },
                                     "links": { "GetBatch": { "operationId": "getBatch", "parameters": { "id": "$response.body#/batch_id" } } } },
                            "207": { "description": "some jobs exist and others do not: each entry says which", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/BatchIncomplete" } } } },
                            "503": { "description": "no job of this request was kept (`batch_not_created`, with its entries): send the same request again; or another dependency failure", "content": { "application/json": { "schema": { "anyOf": [ { "$ref": "#/components/schemas/BatchIncomplete" }, { "$ref": "#/components/schemas/Error" } ] } } } } }),
                    &["400", "401", "413", "415", "422"],
                )
            }
        },
        "/jobs/retry": {
            "post": {
                "operationId": "retryAll",
                "requestBody": body("BulkRetry"),
                "responses": with_errors(returns("202", "retried", "BulkRetried"), &["400", "401", "413", "415", "422", "503"])
            }
        },
        "/jobs/{id}": {
            "get": {
                "operationId": "getJob",
                "parameters": [id_param("id")],
                "responses": with_errors(returns("200", "the job", "Job"), &["400", "401", "404", "503"])
            },
            "patch": {
                "operationId": "reportJob",
                "parameters": [id_param("id")],
                "requestBody": body("ExternalUpdate"),
                "responses": with_errors(returns("200", "the job after the report", "Job"), &["400", "401", "404", "409", "413", "415", "422", "503"])
            }
        },
        "/jobs/{id}/cancel": {
            "post": {
                "operationId": "cancelJob",
                "parameters": [id_param("id")],
                "responses": with_errors(returns("200", "cancelled", "Job"), &["400", "401", "404", "409", "503"])
            }
        },
        "/jobs/{id}/retry": {
            "post": {
                "operationId": "retryJob",
                "parameters": [id_param("id")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "priority": nullable(priority.clone()) }, "additionalProperties": false } } } },
                "responses": with_errors(returns("202", "queued again with fresh attempts", "Job"), &["400", "401", "404", "409", "413", "415", "422", "503"])
            }
        }
    })
}

/// Batches, statistics, pause flags and the service's own routes.
fn other_paths() -> Value {
    json!({
        "/batches/{id}": {
            "get": {
                "operationId": "getBatch",
                "parameters": [id_param("id")],
                "responses": with_errors(returns("200", "counts and progress", "BatchSummary"), &["400", "401", "404", "503"])
            }
        },
        "/stats": {
            "get": {
                "operationId": "stats",
                "parameters": [{ "name": "type", "in": "query", "schema": { "type": "string" } }],
                "responses": with_errors(returns("200", "statistics", "Stats"), &["401", "422", "503"])
            }
        },
        "/pause": {
            "get": { "operationId": "pauseFlags", "responses": with_errors(returns("200", "paused scopes", "PauseFlags"), &["401", "503"]) },
            "post": { "operationId": "pause", "requestBody": body("Scope"), "responses": with_errors(returns("200", "paused scopes", "PauseFlags"), &["400", "401", "413", "415", "422", "503"]) }
        },
        "/resume": {
            "post": { "operationId": "resume", "requestBody": body("Scope"), "responses": with_errors(returns("200", "paused scopes", "PauseFlags"), &["400", "401", "413", "415", "422", "503"]) }
        },
        "/health": {
            "get": { "operationId": "health", "responses": with_errors(returns("200", "every dependency answers", "Health"), &["503"]) }
        },
        "/metrics": {
            "get": { "operationId": "metrics", "description": "The figures of /stats in the Prometheus (OpenMetrics) text format.", "responses": with_errors(json!({ "200": { "description": "metrics", "content": { "application/openmetrics-text": { "schema": { "type": "string" } } } } }), &["401", "503"]) }
        },
        "/dashboard": {
            "get": { "operationId": "dashboard", "description": "The live dashboard page; it reads /stats, /jobs and /batches with the API's token.", "responses": { "200": { "description": "the page", "content": { "text/html": { "schema": { "type": "string" } } } } } }
        },
        "/openapi.json": {
            "get": { "operationId": "openapi", "responses": { "200": { "description": "this document", "content": { "application/json": { "schema": { "type": "object" } } } } } }
        }
    })
}

fn request_schemas() -> Value {
    let priority = priority_schema();
    let job_properties = job_properties();
    let step_properties = step_properties();
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string" }, "message": { "type": "string" }, "field": { "type": ["string", "null"] } } } }
        },
        "Priority": priority,
        "NewJob": {
            "type": "object", "required": ["type"], "additionalProperties": false,
            "description": "Optional fields may also be null, which is the same as leaving them out.",
            "properties": job_properties
        },
        "NewStep": {
            "type": "object", "required": ["type"], "additionalProperties": false,
            "description": "A step of a pipeline: a job spec without a next of its own.",
            "properties": step_properties
        },
        "NewBatch": {
            "type": "object", "required": ["jobs"], "additionalProperties": false,
            "properties": { "jobs": { "type": "array", "minItems": 1, "maxItems": input::MAX_BATCH_JOBS, "items": { "$ref": "#/components/schemas/NewJob" } }, "batch_id": { "type": ["string", "null"], "minLength": 1, "maxLength": 128 } }
        },
        "Batch": { "type": "object", "properties": { "batch_id": { "type": "string" }, "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } } } },
        "BulkRetry": { "type": "object", "required": ["status"], "additionalProperties": false, "properties": { "status": { "enum": ["failed", "partial", "cancelled"] }, "type": { "type": ["string", "null"], "minLength": 1, "maxLength": 128 } } },
        "BulkRetried": { "type": "object", "properties": { "retried": { "type": "integer" }, "more": { "type": "boolean" } } },
        "ExternalUpdate": {
            "type": "object", "additionalProperties": false,
            "description": "Fields may also be null, which is the same as leaving them out.",
            "properties": {
                "status": { "enum": ["processing", "completed", "partial", "failed", "cancelled", "queued", null] },
                "progress": { "type": ["integer", "null"], "minimum": 0, "maximum": 100 },
                "current_step": { "type": ["string", "null"], "minLength": 1, "maxLength": 256 },
                "message": { "type": ["string", "null"], "minLength": 1, "maxLength": 2048 }, "result": {},
                "error": { "anyOf": [
                    { "type": ["string", "null"] },
                    { "type": "object", "required": ["message"], "properties": { "message": { "type": "string" }, "details": {} } }
                ] },
                "github_workflow_run_id": run_id()
            }
        },
        "Scope": { "type": "object", "required": ["scope"], "additionalProperties": false, "properties": { "scope": { "type": "string", "examples": ["all", "queue:high", "type:resize"] } } },
        "PauseFlags": { "type": "object", "properties": { "paused": { "type": "array", "items": { "type": "string" } } } }
    })
}

fn response_schemas() -> Value {
    let job_statuses = job_statuses();
    json!({
        "Job": {
            "type": "object",
            "properties": {
                "id": { "type": "string" }, "type": { "type": "string" }, "payload": {}, "priority": { "type": "integer" },
                "tier": { "enum": ["high", "normal", "low"] }, "status": { "enum": job_statuses },
                "attempts": { "type": "integer" }, "max_attempts": { "type": "integer" }, "progress": { "type": "integer" },
                "current_step": { "type": ["string", "null"] }, "message": { "type": ["string", "null"] }, "result": {},
                "error": { "type": ["object", "null"] }, "idempotency_key": { "type": ["string", "null"] },
                "batch_id": { "type": ["string", "null"] }, "github_workflow_run_id": { "type": ["string", "null"] },
                "timeout_seconds": { "type": "integer" }, "generation": { "type": "integer" },
                "created_at": { "type": "string", "format": "date-time" }, "run_at": { "type": ["string", "null"] },
                "started_at": { "type": ["string", "null"] }, "completed_at": { "type": ["string", "null"] },
                "duration_ms": { "type": ["integer", "null"] }, "wait_ms": { "type": ["integer", "null"] },
                "lease_until": { "type": ["string", "null"] }, "next": { "type": "array", "items": { "type": "object" } }
            }
        },
        "BatchIncomplete": {
            "type": "object", "required": ["error", "batch_id", "entries"],
            "description": "A batch not enqueued whole. `error.code` is `batch_not_created` (503: this request left no job behind) or `batch_incomplete` (207: some jobs exist); `error.message` says what to send again.",
            "properties": {
                "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "enum": ["batch_not_created", "batch_incomplete"] }, "message": { "type": "string" }, "field": { "type": "null" } } },
                "batch_id": { "type": "string" },
                "entries": { "type": "array", "items": { "$ref": "#/components/schemas/BatchEntry" } }
            }
        },
        "BatchEntry": {
            "type": "object", "required": ["index", "id", "outcome", "exists"],
            "description": "One job of the request, by its place in `jobs`. `enqueued`: it exists and its message is on the queue (or it waits scheduled, or its idempotency_key had it already). `unsent`: it exists but its message is not sent yet; the scheduler sends it (JOBQ_RESEND_AFTER_SECONDS). `not_created`: there is no such job; send the entry again. `unknown`: its write failed and could not be undone; it may exist (GET /jobs/{id}).",
            "properties": {
                "index": { "type": "integer", "minimum": 0 },
                "id": { "type": "string", "description": "the job's id; an entry without an idempotency_key sent again gets a new one" },
                "outcome": { "enum": ["enqueued", "unsent", "not_created", "unknown"] },
                "exists": { "type": ["boolean", "null"], "description": "null when not known (outcome unknown)" },
                "reason": { "type": "string" },
                "job": { "$ref": "#/components/schemas/Job" }
            }
        },
        "Page": { "type": "object", "properties": { "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } }, "next_cursor": { "type": ["string", "null"] } } },
        "BatchSummary": { "type": "object", "properties": { "batch_id": { "type": "string" }, "total": { "type": "integer" }, "counts": { "type": "object" }, "progress": { "type": "integer" }, "done": { "type": "boolean" }, "started_at": { "type": ["string", "null"] }, "finished_at": { "type": ["string", "null"] } } },
        "Stats": { "type": "object", "properties": { "counts": { "type": "object" }, "types": { "type": "object" }, "tiers": { "type": "object" }, "paused": { "$ref": "#/components/schemas/PauseFlags" } } },
        "Health": { "type": "object", "properties": { "status": { "const": "ok" }, "table": { "type": "string" }, "queues": { "type": "object" }, "dlqs": { "type": "object" }, "bucket": { "type": ["string", "null"] }, "version": { "type": "string" } } }
    })
}

/// The component name of `job_type`'s payload schema: its name with any character a component
/// name may not have (`^[a-zA-Z0-9._-]+$`) as `_`.
pub fn payload_schema_name(job_type: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    format!("{PAYLOAD_PREFIX}{}", job_type.chars().map(|c| if safe(c) { c } else { '_' }).collect::<String>())
}

/// Each type's payload schema, and the input types' named schemas they refer to.
fn payload_schemas(types: &JobTypes) -> Value {
    let generated = types.payload_schemas("/components/schemas");
    let mut schemas = Map::new();
    for (name, mut schema) in generated.definitions {
        prefix_refs(&mut schema);
        schemas.insert(format!("{INPUT_PREFIX}{name}"), without_boolean_schemas(schema));
    }
    for (job_type, mut schema) in generated.by_type {
        prefix_refs(&mut schema);
        schemas.insert(payload_schema_name(&job_type), without_boolean_schemas(schema));
    }
    Value::Object(schemas)
}

/// `schema` with its boolean schemas written as objects (`true`: `{}`, `false`: `{"not": {}}`),
/// wherever a schema stands: JSON Schema allows both, but OpenAPI tools (client generators)
/// read only objects, and an `Input` of `serde_json::Value` is `true`.
fn without_boolean_schemas(schema: Value) -> Value {
    match schema {
        Value::Bool(true) => json!({}),
        Value::Bool(false) => json!({ "not": {} }),
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(key, value)| (key.clone(), subschemas(&key, value))).collect(),
        ),
        other => other,
    }
}

/// The value of keyword `key` with the schemas it holds written as objects.
fn subschemas(key: &str, value: Value) -> Value {
    const ONE: [&str; 6] = ["items", "contains", "not", "if", "then", "else"];
    const EACH: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
    const BY_NAME: [&str; 4] = ["properties", "patternProperties", "$defs", "dependentSchemas"];
    match value {
        v if ONE.contains(&key) => without_boolean_schemas(v),
        Value::Array(all) if EACH.contains(&key) => {
            Value::Array(all.into_iter().map(without_boolean_schemas).collect())
        }
        Value::Object(named) if BY_NAME.contains(&key) => {
            Value::Object(named.into_iter().map(|(n, s)| (n, without_boolean_schemas(s))).collect())
        }
        other => other,
    }
}

/// The generated schemas' references, to the input types' prefixed names.
fn prefix_refs(schema: &mut Value) {
    const AT: &str = "#/components/schemas/";
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(target) if key == "$ref" && target.starts_with(AT) => {
                        target.insert_str(AT.len(), INPUT_PREFIX);
                    }
                    _ => prefix_refs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(prefix_refs),
        _ => {}
    }
}

/// A job spec's schema held to the registered types: one of them by `type`, each with its own
/// payload schema (required when its input does not take `null`, which a left-out payload is).
fn by_type(spec: &mut Value, spec_name: &str, types: &JobTypes) {
    let names: Vec<&str> = types.names().collect();
    if names.is_empty() {
        return;
    }
    spec["properties"]["type"]["examples"] = json!(names);
    let variants: Vec<Value> = names
        .iter()
        .map(|name| {
            let required =
                if types.payload_optional(name) { json!(["type"]) } else { json!(["type", "payload"]) };
            // Each variant lists the spec's other fields too, and is titled `<spec> <type>`, so a
            // generated client has one complete class per spec and type (`NewJobSleep`).
            let mut properties = spec["properties"].clone();
            properties["type"] = json!({ "const": name });
            properties["payload"] =
                json!({ "$ref": format!("#/components/schemas/{}", payload_schema_name(name)) });
            json!({
                "type": "object",
                "title": format!("{spec_name} {name}"),
                "required": required,
                "properties": properties
            })
        })
        .collect();
    spec["oneOf"] = Value::from(variants);
    spec["description"] = json!(format!(
        "{} One of the registered job types, by `type`; its `payload` must fit that type's schema (`{PAYLOAD_PREFIX}<type>`).",
        spec["description"].as_str().unwrap_or_default()
    ));
}

/// Every (method, path) of the document, lowercase method.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
                ops.push((method.clone(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_schemas_become_objects_where_schemas_stand_and_nowhere_else() {
        let schema = json!({
            "type": "object",
            "properties": { "any": true, "none": false, "list": { "type": "array", "items": true } },
            "additionalProperties": false,
            "oneOf": [true, { "type": "string" }],
            "default": true
        });
        let written = without_boolean_schemas(schema);
        assert_eq!(written["properties"]["any"], json!({}));
        assert_eq!(written["properties"]["none"], json!({ "not": {} }));
        assert_eq!(written["properties"]["list"]["items"], json!({}));
        assert_eq!(written["oneOf"][0], json!({}));
        // Not schemas: kept as they are.
        assert_eq!(written["additionalProperties"], json!(false));
        assert_eq!(written["default"], json!(true));
        assert_eq!(without_boolean_schemas(json!(true)), json!({}));
    }
}
