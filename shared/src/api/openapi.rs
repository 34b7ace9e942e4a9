//! The OpenAPI 3.1 document of the routes. Its operations and the schemas of the bodies they take
//! and give are generated (utoipa) from the handlers and the types they read and write; what is
//! added here at run time is what depends on the job types a deployment registers: each type's
//! payload schema, and a job spec as one of the types by `type`.

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::error::{ApiError, ErrorBody};
use super::security::{SecuritySchemes, describe_access};
use crate::domain::payload::JobTypes;

/// Where each job type's payload schema is (`Payload.<type>`), and the named schemas of their
/// input types (`Input.<name>`): prefixed, so a type named `Job` or `Error` meets no schema of
/// the API's own.
const PAYLOAD_PREFIX: &str = "Payload.";
const INPUT_PREFIX: &str = "Input.";

/// The document's parts that belong to no one route.
#[derive(OpenApi)]
#[openapi(
    info(title = "jobq", description = "Priority job queue on AWS primitives."),
    components(schemas(ErrorBody), responses(ApiError)),
    modifiers(&SecuritySchemes)
)]
struct Base;

/// The document before any route is added.
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// `generated` (the routes' document) with each operation's access (security and roles), each of
/// `types`' payload schema, and the job specs (`NewJob`, `NewStep`) held to the registered types.
pub fn complete(mut generated: utoipa::openapi::OpenApi, types: &JobTypes) -> Value {
    describe_access(&mut generated);
    // Serializing plain data: it cannot fail.
    let mut doc = serde_json::to_value(generated).unwrap_or_default();
    let schemas = &mut doc["components"]["schemas"];
    if let (Some(schemas), Value::Object(payloads)) = (schemas.as_object_mut(), payload_schemas(types)) {
        schemas.extend(payloads);
    }
    for spec in ["NewJob", "NewStep"] {
        by_type(&mut doc["components"]["schemas"][spec], spec, types);
    }
    doc
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
