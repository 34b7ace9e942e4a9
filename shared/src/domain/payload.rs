//! Each job type's payload, checked at the door: a payload that does not deserialize into its
//! type's [`Task::Input`](crate::domain::task::Task::Input) is refused when the job is created, naming
//! the field at fault, rather than failing the job when a worker runs it. The same input types
//! give each payload's JSON Schema, for the OpenAPI document.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::domain::model::NewJob;

/// Why a job cannot be created: the deployment does not run it as specified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobRefusal {
    /// No registered type has this name.
    #[error("{field} unknown job type {job_type:?}")]
    UnknownType { field: String, job_type: String },
    /// The payload does not deserialize into the type's input; `field` is the path at fault
    /// (`payload.width`, `payload.items[2]`).
    #[error("{field} does not fit job type {job_type}: {reason}")]
    Payload { field: String, job_type: String, reason: String },
}

impl JobRefusal {
    /// The field at fault, as the request names it.
    pub fn field(&self) -> &str {
        match self {
            JobRefusal::UnknownType { field, .. } | JobRefusal::Payload { field, .. } => field,
        }
    }

    /// What is wrong with [`JobRefusal::field`], without its name.
    pub fn problem(&self) -> String {
        match self {
            JobRefusal::UnknownType { job_type, .. } => format!("unknown job type {job_type:?}"),
            JobRefusal::Payload { job_type, reason, .. } => {
                format!("does not fit job type {job_type}: {reason}")
            }
        }
    }

    /// The same refusal of a spec found at `prefix` (`jobs[2].`, `next[0].`) of a larger request.
    pub fn within(mut self, prefix: &str) -> Self {
        match &mut self {
            JobRefusal::UnknownType { field, .. } | JobRefusal::Payload { field, .. } => {
                field.insert_str(0, prefix);
            }
        }
        self
    }
}

/// A payload that does not fit: where (within the payload) and why.
struct Mismatch {
    path: Vec<Segment>,
    reason: String,
}

/// One type's input with its type erased: the check and the schema of its payloads.
trait PayloadInput: Send + Sync {
    fn check(&self, payload: &Value) -> Result<(), Mismatch>;
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

struct InputOf<I>(PhantomData<fn() -> I>);

impl<I: DeserializeOwned + JsonSchema> PayloadInput for InputOf<I> {
    fn check(&self, payload: &Value) -> Result<(), Mismatch> {
        serde_path_to_error::deserialize::<_, I>(payload).map(drop).map_err(|err| {
            let mut path: Vec<Segment> = err.path().iter().cloned().collect();
            // serde names the object that lacks a field, not the field: the schema knows it.
            let schema = schemars::generate::SchemaSettings::draft2020_12()
                .with(|s| s.inline_subschemas = true)
                .into_generator()
                .into_root_schema_for::<I>();
            if let Some(missing) = missing_required(schema.as_value(), &path, payload) {
                path.push(Segment::Map { key: missing });
            }
            Mismatch { path, reason: err.inner().to_string() }
        })
    }

    fn schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<I>()
    }
}

/// The job types a deployment accepts, each with its payload's check and schema: what the job
/// service holds (from [`Registry::job_types`](crate::domain::task::Registry::job_types)), so every
/// route that creates jobs refuses the same payloads the worker could not run.
#[derive(Clone, Default)]
pub struct JobTypes {
    inputs: BTreeMap<String, Arc<dyn PayloadInput>>,
}

impl fmt::Debug for JobTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.inputs.keys()).finish()
    }
}

/// The payload schemas of every type, for the OpenAPI document's `components.schemas`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PayloadSchemas {
    /// By job type: its payload's schema (often a `$ref` into `definitions`).
    pub by_type: BTreeMap<String, Value>,
    /// The named schemas the types refer to, by name, as `$ref`s under `definitions_path` name them.
    pub definitions: Map<String, Value>,
}

impl JobTypes {
    /// Accept `job_type` with payloads that deserialize into `I` (replacing an earlier one).
    pub fn add<I: DeserializeOwned + JsonSchema + 'static>(&mut self, job_type: &str) -> &mut Self {
        self.inputs.insert(job_type.to_owned(), Arc::new(InputOf::<I>(PhantomData)));
        self
    }

    pub fn contains(&self, job_type: &str) -> bool {
        self.inputs.contains_key(job_type)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inputs.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// `Ok` when `job_type` is registered and `payload` deserializes into its input. The refusal
    /// names `type`, or the payload's field at fault (`payload.width`).
    pub fn check(&self, job_type: &str, payload: &Value) -> Result<(), JobRefusal> {
        let input = self.inputs.get(job_type).ok_or_else(|| JobRefusal::UnknownType {
            field: "type".to_owned(),
            job_type: job_type.to_owned(),
        })?;
        input.check(payload).map_err(|mismatch| JobRefusal::Payload {
            field: field_path(&mismatch.path),
            job_type: job_type.to_owned(),
            reason: mismatch.reason,
        })
    }

    /// `Ok` when `spec` and each step of its pipeline are of registered types with payloads
    /// that fit; a step's refusal names it (`next[0].payload.width`).
    pub fn check_job(&self, spec: &NewJob) -> Result<(), JobRefusal> {
        self.check(&spec.job_type, &spec.payload)?;
        for (i, step) in spec.next.iter().enumerate() {
            self.check(&step.job_type, &step.payload).map_err(|r| r.within(&format!("next[{i}].")))?;
        }
        Ok(())
    }

    /// Whether a job of `job_type` may leave its payload out (it is then `null`).
    pub fn payload_optional(&self, job_type: &str) -> bool {
        self.check(job_type, &Value::Null).is_ok()
    }

    /// Each type's payload schema; named schemas are referred to as
    /// `#<definitions_path>/<name>` (e.g. `/components/schemas`).
    pub fn payload_schemas(&self, definitions_path: &str) -> PayloadSchemas {
        let mut generator = schemars::generate::SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = definitions_path.to_owned().into();
                s.meta_schema = None;
            })
            .into_generator();
        let by_type = self
            .inputs
            .iter()
            .map(|(name, input)| (name.clone(), input.schema(&mut generator).to_value()))
            .collect();
        PayloadSchemas { by_type, definitions: generator.take_definitions(true) }
    }
}

/// The first property that `schema` (inlined) requires of the object at `path` in `payload`
/// and that it lacks; `None` when that is not an object, or lacks nothing required.
fn missing_required(schema: &Value, path: &[Segment], payload: &Value) -> Option<String> {
    let (mut schema, mut value) = (schema, payload);
    for segment in path {
        schema = object_branch(schema);
        (schema, value) = match segment {
            Segment::Seq { index } => (schema.get("items")?, value.get(index)?),
            Segment::Map { key } => (schema.get("properties")?.get(key)?, value.get(key)?),
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    let present = value.as_object()?;
    let required = object_branch(schema).get("required")?.as_array()?;
    required.iter().filter_map(Value::as_str).find(|name| !present.contains_key(*name)).map(str::to_owned)
}

/// An optional struct's schema is `anyOf` it and `null`: the branch that describes an object.
fn object_branch(schema: &Value) -> &Value {
    let branches = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array);
    branches.and_then(|b| b.iter().find(|s| s.get("properties").is_some())).unwrap_or(schema)
}

/// `payload` and the path within it, as the API names fields: `payload.items[2].width`.
fn field_path(path: &[Segment]) -> String {
    let mut field = "payload".to_owned();
    for segment in path {
        // Writing to a String cannot fail.
        let _ = match segment {
            Segment::Seq { index } => write!(field, "[{index}]"),
            Segment::Map { key } | Segment::Enum { variant: key } => write!(field, ".{key}"),
            Segment::Unknown => write!(field, ".?"),
        };
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Resize {
        width: u32,
        #[serde(default)]
        crops: Vec<Crop>,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Crop {
        x: u32,
    }

    fn types() -> JobTypes {
        let mut types = JobTypes::default();
        types.add::<Resize>("resize").add::<Value>("echo");
        types
    }

    fn refusal(job_type: &str, payload: Value) -> JobRefusal {
        types().check(job_type, &payload).expect_err("refused")
    }

    #[test]
    fn a_payload_that_fits_its_input_is_accepted() {
        assert_eq!(types().check("resize", &json!({"width": 3, "crops": [{"x": 1}]})), Ok(()));
        assert_eq!(types().check("echo", &json!(["anything", 1])), Ok(()));
        assert_eq!(types().check("echo", &Value::Null), Ok(()));
    }

    #[test]
    fn a_refusal_names_the_field_path_within_the_payload() {
        let wrong = refusal("resize", json!({"width": "big"}));
        assert_eq!(wrong.field(), "payload.width");
        assert!(
            wrong.to_string().starts_with("payload.width does not fit job type resize: invalid type"),
            "{wrong}"
        );
        assert_eq!(
            refusal("resize", json!({"width": 1, "crops": [{"x": 1}, {"x": -1}]})).field(),
            "payload.crops[1].x"
        );
        assert_eq!(refusal("resize", json!("x")).field(), "payload");
        assert_eq!(refusal("resize", json!({"width": 1, "height": 2})).field(), "payload.height");
        // A missing field is named too, though serde's path ends at the object lacking it.
        assert_eq!(refusal("resize", json!({})).field(), "payload.width");
        let crop = refusal("resize", json!({"width": 1, "crops": [{"x": 1}, {}]}));
        assert_eq!(crop.field(), "payload.crops[1].x");
        assert!(crop.to_string().ends_with("missing field `x`"), "{crop}");
        assert_eq!(refusal("resize", json!({"width": 1, "crops": {}})).field(), "payload.crops");
    }

    #[test]
    fn an_unknown_type_names_the_type_and_a_prefix_places_the_spec() {
        let unknown = refusal("transcode", json!({}));
        assert_eq!(unknown, JobRefusal::UnknownType { field: "type".into(), job_type: "transcode".into() });
        assert_eq!(unknown.within("jobs[2].").field(), "jobs[2].type");
        assert_eq!(
            refusal("resize", json!({"width": -1})).within("next[0].").field(),
            "next[0].payload.width"
        );
    }

    #[test]
    fn only_inputs_that_take_null_may_leave_the_payload_out() {
        assert!(types().payload_optional("echo"));
        assert!(!types().payload_optional("resize"));
    }

    #[test]
    fn each_type_has_its_payload_schema_and_named_parts_are_defined_once() {
        let schemas = types().payload_schemas("/components/schemas");
        assert_eq!(schemas.by_type["echo"], json!(true), "any JSON");
        assert_eq!(schemas.by_type["resize"], json!({"$ref": "#/components/schemas/Resize"}));
        let resize = &schemas.definitions["Resize"];
        assert_eq!(resize["required"], json!(["width"]));
        assert_eq!(resize["additionalProperties"], json!(false));
        assert_eq!(resize["properties"]["crops"]["items"], json!({"$ref": "#/components/schemas/Crop"}));
        assert!(schemas.definitions.contains_key("Crop"));
    }
}
