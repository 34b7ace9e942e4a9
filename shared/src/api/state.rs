//! What every route shares: the job service, the API's settings, and the document it serves.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::error::ApiError;
use super::identity::IdentitySettings;
use super::input;
use crate::config::{ConfigError, Vars, process_env};
use crate::handlers::service::JobService;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Who may call: `JOBQ_API_TOKENS` or `JOBQ_API_TOKEN` locally (then every route but
    /// `/health`, `/openapi.json` and `/dashboard` needs `Authorization: Bearer <token>`); in AWS,
    /// API Gateway's JWT or IAM authorizer, mapped to roles (`JOBQ_JWT_ROLE_CLAIM`, `JOBQ_IAM_ROLES`).
    pub identity: IdentitySettings,
    /// `JOBQ_MAX_PAYLOAD_BYTES`: the largest job payload, as JSON (default 256 KiB).
    pub max_payload_bytes: usize,
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars::new(lookup);
        let max_payload_bytes = vars
            .number(
                "JOBQ_MAX_PAYLOAD_BYTES",
                input::DEFAULT_MAX_PAYLOAD_BYTES as u64,
                1..=input::MAX_SPEC_BYTES as u64,
            )
            .map_err(|e| e.with_hint("a job must fit one DynamoDB item"))?;
        let identity = IdentitySettings::from_vars(&vars)?;
        Ok(ApiSettings { identity, max_payload_bytes: max_payload_bytes as usize })
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            identity: IdentitySettings::default(),
            max_payload_bytes: input::DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }
}

#[derive(Debug)]
pub struct ApiState {
    pub service: JobService,
    pub settings: ApiSettings,
    /// `/openapi.json`, made once when the router is (it depends on the registered job types).
    pub document: Bytes,
}

pub type Shared = State<Arc<ApiState>>;
pub type ApiResult = Result<Response, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_check_the_payload_limit() {
        let ok = ApiSettings::from_lookup(|k| (k == "JOBQ_MAX_PAYLOAD_BYTES").then(|| "1024".into()))
            .expect("valid");
        assert_eq!(ok.max_payload_bytes, 1024);
        assert!(
            ApiSettings::from_lookup(|k| (k == "JOBQ_MAX_PAYLOAD_BYTES").then(|| "10000000".into())).is_err()
        );
        assert_eq!(ApiSettings::from_lookup(|_| None).expect("defaults"), ApiSettings::default());
    }
}
