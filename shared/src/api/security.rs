//! What the OpenAPI document says of access: how a caller proves who it is (the security
//! schemes), and on each operation whether it needs a caller and which roles may use it. Both come
//! from `route_access` and `Role::allows`, the rules the API enforces, so the document cannot
//! drift from them.

use serde_json::json;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use super::access::{Access, route_access};
use crate::domain::caller::Role;

/// The bearer token scheme: a local token (`JOBQ_API_TOKENS`) or a JWT API Gateway verified.
pub const BEARER: &str = "bearer";
/// AWS Signature Version 4, for API Gateway's IAM authorization.
pub const SIGV4: &str = "sigv4";
/// The operation extension naming the roles that may use it.
pub const ROLES_EXTENSION: &str = "x-jobq-roles";

/// The document's security schemes (a `Modify` of the base document).
#[derive(Debug)]
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "`Authorization: Bearer <token>`: locally one of `JOBQ_API_TOKENS` (or \
                 `JOBQ_API_TOKEN`); behind API Gateway's JWT authorizer, a JWT whose `sub` owns \
                 the jobs and whose role claim or `jobq:<role>` scope gives the role.",
            ))
            .build();
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        // OpenAPI has no scheme for a signed request; API Gateway's own convention is an API key
        // in `Authorization` marked `awsSigv4`, which its import understands.
        let mut sigv4 = ApiKeyValue::with_description(
            "Authorization",
            "AWS Signature Version 4 (API Gateway's IAM authorization): the signing principal's \
             ARN owns the jobs, and `JOBQ_IAM_ROLES` gives its role.",
        );
        sigv4.extensions = Some([("x-amazon-apigateway-authtype", json!("awsSigv4"))].into_iter().collect());
        components.add_security_scheme(SIGV4, SecurityScheme::ApiKey(ApiKey::Header(sigv4)));
    }
}

/// Pure: the roles that may use a route, in `Role::ALL`'s order; `None` for an open route or one
/// the API does not have.
pub fn route_roles(method: &str, path: &str) -> Option<Vec<Role>> {
    match route_access(method, path)? {
        Access::Open => None,
        Access::Needs(action) => Some(Role::ALL.into_iter().filter(|r| r.allows(action)).collect()),
    }
}

/// Each operation that needs a caller: either scheme as its security requirement, its roles as
/// `x-jobq-roles`, and a sentence naming them at the end of its description. Open operations
/// are left with no requirement.
pub fn describe_access(api: &mut OpenApi) {
    let either = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
    for (path, item) in api.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            let Some(roles) = route_roles(method, path) else { continue };
            let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            operation.security = Some(vec![either(BEARER), either(SIGV4)]);
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert(ROLES_EXTENSION.into(), json!(names));
            let sentence = format!("Roles: {}.", names.join(", "));
            operation.description = Some(match operation.description.take() {
                Some(text) if !text.trim().is_empty() => format!("{text}\n\n{sentence}"),
                _ => sentence,
            });
        }
    }
}

/// A path's operations with their methods, lower case as `route_access` takes them.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        crate::api::document(&crate::domain::task::Registry::with_builtins().job_types())
    }

    #[test]
    fn each_operation_lists_exactly_the_roles_its_action_allows() {
        let doc = document();
        for (method, path) in crate::api::openapi::operations(&doc) {
            let operation = &doc["paths"][&path][&method];
            let allowed: Option<Vec<&str>> = match route_access(&method, &path) {
                Some(Access::Needs(action)) => {
                    Some(Role::ALL.iter().filter(|r| r.allows(action)).map(|r| r.as_str()).collect())
                }
                Some(Access::Open) => None,
                None => panic!("{method} {path} is documented but has no access rule"),
            };
            let listed: Option<Vec<&str>> = operation[ROLES_EXTENSION]
                .as_array()
                .map(|roles| roles.iter().filter_map(Value::as_str).collect());
            assert_eq!(listed, allowed, "{method} {path}");
            let description = operation["description"].as_str().unwrap_or_default();
            match allowed {
                Some(roles) => {
                    assert!(
                        description.ends_with(&format!("Roles: {}.", roles.join(", "))),
                        "{method} {path}"
                    );
                    let schemes: Vec<&str> = operation["security"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|requirement| requirement.as_object().into_iter().flat_map(|r| r.keys()))
                        .map(String::as_str)
                        .collect();
                    assert_eq!(schemes, [BEARER, SIGV4], "{method} {path}");
                }
                None => {
                    assert!(operation.get("security").is_none(), "{method} {path} is open");
                    assert!(!description.contains("Roles:"), "{method} {path} is open");
                }
            }
        }
    }

    #[test]
    fn the_schemes_are_bearer_and_sigv4_and_the_open_routes_need_neither() {
        let doc = document();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[BEARER]["type"], "http");
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        assert_eq!(schemes[SIGV4]["type"], "apiKey");
        assert_eq!(schemes[SIGV4]["in"], "header");
        assert_eq!(schemes[SIGV4]["name"], "Authorization");
        assert_eq!(schemes[SIGV4]["x-amazon-apigateway-authtype"], "awsSigv4");
        assert!(doc.get("security").is_none(), "no requirement for the whole document");
        for path in ["/health", "/openapi.json", "/dashboard"] {
            assert!(doc["paths"][path]["get"].get("security").is_none(), "{path}");
        }
        // A few by name, so the derivation itself is checked and not only restated.
        let roles = |method: &str, path: &str| doc["paths"][path][method][ROLES_EXTENSION].clone();
        assert_eq!(roles("post", "/pause"), json!(["admin"]));
        assert_eq!(roles("get", "/me"), json!(["admin", "submitter", "viewer", "executor"]));
        assert_eq!(roles("patch", "/jobs/{id}"), json!(["admin", "executor"]));
        assert_eq!(roles("get", "/stats"), json!(["admin", "viewer"]));
        assert_eq!(roles("post", "/jobs"), json!(["admin", "submitter"]));
    }
}
