//! Who a request comes from. Behind API Gateway, its authorizer has checked the credentials and
//! says who: a JWT's claims or an IAM principal. Locally, a bearer token from `JOBQ_API_TOKENS`
//! (or the one admin `JOBQ_API_TOKEN`). With none of these configured, the caller is one admin.

use std::collections::HashMap;

use serde::Deserialize;

use crate::config::{ConfigError, Vars};
use crate::domain::caller::{Caller, OwnerError, Role};

/// What the request carries, as API Gateway's authorizer or the client put it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// The claims of a JWT the authorizer verified, and its scopes.
    Jwt { claims: HashMap<String, String>, scopes: Vec<String> },
    /// The IAM principal that signed the request.
    Iam { arn: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    #[default]
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No credentials, or ones nobody issued: 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known, but holding no role here: 403.
    #[error("{0}")]
    NoRole(String),
}

/// A token's holder, compared in constant time.
#[derive(Clone, PartialEq, Eq)]
struct TokenEntry {
    token: String,
    caller: Caller,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenEntry(<hidden> = {}:{})", self.caller.owner, self.caller.role)
    }
}

/// One `JOBQ_IAM_ROLES` entry: principals whose ARN matches `pattern` (`*` is any run of
/// characters) hold `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnRole {
    pub pattern: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySettings {
    tokens: Vec<TokenEntry>,
    /// `JOBQ_JWT_ROLE_CLAIM`: the claim holding a JWT caller's role.
    pub jwt_role_claim: String,
    /// `JOBQ_IAM_ROLES`, in order: the first match wins.
    pub iam_roles: Vec<ArnRole>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            tokens: Vec::new(),
            jwt_role_claim: DEFAULT_ROLE_CLAIM.to_owned(),
            iam_roles: Vec::new(),
        }
    }
}

pub const DEFAULT_ROLE_CLAIM: &str = "jobq_role";

/// The owner of the single `JOBQ_API_TOKEN`.
pub const SINGLE_TOKEN_OWNER: &str = "admin";

impl IdentitySettings {
    pub fn from_vars<L: Fn(&str) -> Option<String>>(vars: &Vars<L>) -> Result<Self, ConfigError> {
        let mut tokens = match vars.raw("JOBQ_API_TOKENS") {
            Some(list) => parse_tokens(&list)?,
            None => Vec::new(),
        };
        if let Some(token) = vars.raw("JOBQ_API_TOKEN") {
            let caller = Caller { owner: SINGLE_TOKEN_OWNER.to_owned(), role: Role::Admin };
            tokens.push(TokenEntry { token, caller });
        }
        let jwt_role_claim =
            vars.optional("JOBQ_JWT_ROLE_CLAIM").unwrap_or_else(|| DEFAULT_ROLE_CLAIM.to_owned());
        let iam_roles = match vars.json::<serde_json::Map<String, serde_json::Value>>(
            "JOBQ_IAM_ROLES",
            "a JSON object of ARN pattern to role",
        )? {
            Some(map) => parse_iam_roles(map)?,
            None => Vec::new(),
        };
        Ok(IdentitySettings { tokens, jwt_role_claim, iam_roles })
    }

    /// One admin, `admin`, holding `token` (what `JOBQ_API_TOKEN` gives).
    pub fn single_token(token: &str) -> Self {
        let caller = Caller { owner: SINGLE_TOKEN_OWNER.to_owned(), role: Role::Admin };
        IdentitySettings { tokens: vec![TokenEntry { token: token.to_owned(), caller }], ..Self::default() }
    }

    /// The callers of a `JOBQ_API_TOKENS` list (`token=owner:role,...`).
    pub fn tokens(list: &str) -> Result<Self, ConfigError> {
        Ok(IdentitySettings { tokens: parse_tokens(list)?, ..Self::default() })
    }

    /// Whether any bearer token is configured: then a request without credentials is refused.
    pub fn requires_token(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Pure: the caller these credentials name.
    pub fn caller(&self, credentials: &Credentials) -> Result<Caller, IdentityError> {
        match credentials {
            Credentials::Jwt { claims, scopes } => self.jwt_caller(claims, scopes),
            Credentials::Iam { arn } => self.iam_caller(arn),
            Credentials::Bearer(given) => self.token_caller(given),
            Credentials::None if self.requires_token() => Err(IdentityError::Unauthenticated(
                "send Authorization: Bearer <token> (one of JOBQ_API_TOKENS, or JOBQ_API_TOKEN)".into(),
            )),
            Credentials::None => Ok(Caller::anonymous()),
        }
    }

    fn token_caller(&self, given: &str) -> Result<Caller, IdentityError> {
        if !self.requires_token() {
            return Ok(Caller::anonymous());
        }
        // Every entry is compared, matched or not, each in constant time: the time taken says
        // nothing of which token, or which byte of it, was near.
        let mut found = None;
        for entry in &self.tokens {
            if token_matches(given, &entry.token) {
                found = Some(entry.caller.clone());
            }
        }
        found.ok_or_else(|| {
            IdentityError::Unauthenticated("the bearer token is not one this API issued".into())
        })
    }

    fn jwt_caller(
        &self,
        claims: &HashMap<String, String>,
        scopes: &[String],
    ) -> Result<Caller, IdentityError> {
        let sub =
            claims.get("sub").ok_or_else(|| IdentityError::Unauthenticated("the JWT has no sub".into()))?;
        let role = match claims.get(&self.jwt_role_claim) {
            Some(claim) => claim.parse::<Role>().map_err(|e| {
                IdentityError::NoRole(format!("the JWT's {} claim: {e}", self.jwt_role_claim))
            })?,
            None => role_from_scopes(scopes).ok_or_else(|| {
                IdentityError::NoRole(format!(
                    "the JWT has no {} claim and no jobq:<role> (or jobq/<role>) scope",
                    self.jwt_role_claim
                ))
            })?,
        };
        Caller::new(sub.clone(), role).map_err(|e| owner_refused("the JWT's sub", e))
    }

    fn iam_caller(&self, arn: &str) -> Result<Caller, IdentityError> {
        // Without patterns, IAM policies alone decide who reaches the API, as before roles.
        if self.iam_roles.is_empty() {
            return Caller::new(arn, Role::Admin).map_err(|e| owner_refused("the IAM principal", e));
        }
        let role = self
            .iam_roles
            .iter()
            .find(|entry| arn_matches(&entry.pattern, arn))
            .map(|entry| entry.role)
            .ok_or_else(|| IdentityError::NoRole(format!("{arn} matches no pattern of JOBQ_IAM_ROLES")))?;
        Caller::new(arn, role).map_err(|e| owner_refused("the IAM principal", e))
    }
}

fn owner_refused(what: &str, err: OwnerError) -> IdentityError {
    IdentityError::Unauthenticated(format!("{what} cannot own jobs: {err}"))
}

/// What API Gateway's authorizer says of the caller (a JWT's claims, or an IAM principal), else
/// the bearer token the request carries.
pub fn credentials(request: &axum::extract::Request) -> Credentials {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.extensions().get::<RequestContext>()
        && let Some(authorizer) = &context.authorizer
    {
        if let Some(jwt) = &authorizer.jwt {
            let scopes = jwt.scopes.clone().unwrap_or_default();
            return Credentials::Jwt { claims: jwt.claims.clone(), scopes };
        }
        if let Some(arn) = authorizer.iam.as_ref().and_then(|iam| iam.user_arn.clone()) {
            return Credentials::Iam { arn };
        }
    }
    let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match header.and_then(|v| v.strip_prefix("Bearer ")) {
        Some(token) => Credentials::Bearer(token.to_owned()),
        None => Credentials::None,
    }
}

/// Whether `given` is `token`, in time that does not depend on where they differ (a comparison
/// that stops at the first wrong byte lets a caller find a token byte by byte). Only the length
/// may show.
pub fn token_matches(given: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

/// Pure: the role a `jobq:<role>` or `jobq/<role>` scope gives; the most able one when several.
pub fn role_from_scopes(scopes: &[String]) -> Option<Role> {
    let named = |s: &String| {
        let role = s.strip_prefix("jobq:").or_else(|| s.strip_prefix("jobq/"))?;
        role.parse::<Role>().ok()
    };
    scopes.iter().filter_map(named).min()
}

/// Pure: whether `arn` matches `pattern`, where `*` stands for any run of characters.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = arn.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `token=owner:role,...`: the role after the owner's last `:`.
fn parse_tokens(list: &str) -> Result<Vec<TokenEntry>, ConfigError> {
    // The value holds secrets: errors name the entry by position, never by its text.
    let invalid = |n: usize, reason: String| {
        ConfigError::invalid("JOBQ_API_TOKENS", "<hidden>", format!("entry {n}: {reason}"))
    };
    let mut tokens: Vec<TokenEntry> = Vec::new();
    for (n, entry) in list.split(',').map(str::trim).enumerate().filter(|(_, e)| !e.is_empty()) {
        let n = n + 1;
        let (token, holder) =
            entry.split_once('=').ok_or_else(|| invalid(n, "expected token=owner:role".into()))?;
        let (owner, role) =
            holder.rsplit_once(':').ok_or_else(|| invalid(n, "expected token=owner:role".into()))?;
        if token.is_empty() || token.chars().any(char::is_whitespace) {
            return Err(invalid(n, "a token is one or more characters, no spaces".into()));
        }
        let role = role.parse::<Role>().map_err(|e| invalid(n, e.to_string()))?;
        let caller = Caller::new(owner, role).map_err(|e| invalid(n, e.to_string()))?;
        if tokens.iter().any(|t| t.token == token) {
            return Err(invalid(n, "the same token is given twice".into()));
        }
        tokens.push(TokenEntry { token: token.to_owned(), caller });
    }
    Ok(tokens)
}

fn parse_iam_roles(map: serde_json::Map<String, serde_json::Value>) -> Result<Vec<ArnRole>, ConfigError> {
    #[derive(Deserialize)]
    struct RoleName(String);
    let mut roles = Vec::new();
    for (pattern, value) in map {
        let invalid = |reason: String| ConfigError::invalid("JOBQ_IAM_ROLES", pattern.clone(), reason);
        let RoleName(name) =
            serde_json::from_value(value).map_err(|_| invalid("a role is a string".into()))?;
        let role = name.parse::<Role>().map_err(|e| invalid(e.to_string()))?;
        roles.push(ArnRole { pattern, role });
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<IdentitySettings, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        IdentitySettings::from_vars(&Vars::new(move |name: &str| vars.get(name).cloned()))
    }

    fn bearer(token: &str) -> Credentials {
        Credentials::Bearer(token.into())
    }

    #[test]
    fn tokens_name_their_owner_and_role() {
        let s = settings(&[("JOBQ_API_TOKENS", "tA=alice:submitter, tV=vera:viewer,tX=ops:team:admin")])
            .expect("ok");
        assert_eq!(s.caller(&bearer("tA")), Ok(Caller::new("alice", Role::Submitter).expect("alice")));
        assert_eq!(s.caller(&bearer("tV")).map(|c| c.role), Ok(Role::Viewer));
        assert_eq!(
            s.caller(&bearer("tX")).map(|c| c.owner),
            Ok("ops:team".into()),
            "the role follows the last ':'"
        );
        assert!(matches!(s.caller(&bearer("tB")), Err(IdentityError::Unauthenticated(_))));
        assert!(matches!(s.caller(&bearer("tA ")), Err(IdentityError::Unauthenticated(_))));
        assert!(matches!(s.caller(&Credentials::None), Err(IdentityError::Unauthenticated(_))));
    }

    #[test]
    fn the_single_token_is_one_admin_and_no_token_means_one_anonymous_admin() {
        let s = settings(&[("JOBQ_API_TOKEN", "secret")]).expect("ok");
        assert_eq!(s.caller(&bearer("secret")).map(|c| (c.owner, c.role)), Ok(("admin".into(), Role::Admin)));
        assert!(s.caller(&Credentials::None).is_err());
        let open = settings(&[]).expect("ok");
        assert_eq!(open.caller(&Credentials::None), Ok(Caller::anonymous()));
        assert_eq!(open.caller(&bearer("anything")), Ok(Caller::anonymous()));
    }

    #[test]
    fn a_bad_token_list_is_refused_without_showing_a_token() {
        for (list, says) in [
            ("tA=alice", "entry 1: expected token=owner:role"),
            ("tA=alice:submitter,tB", "entry 2: expected token=owner:role"),
            ("tA=alice:root", "entry 1: role \"root\""),
            ("tA=jobq:ingest:admin", "entry 1: owner names starting with"),
            ("=alice:admin", "entry 1: a token is one or more characters"),
            ("tA=alice:admin,tA=bob:viewer", "entry 2: the same token is given twice"),
        ] {
            let err = settings(&[("JOBQ_API_TOKENS", list)]).expect_err(list).to_string();
            assert!(err.contains(says), "{list}: {err}");
            assert!(!err.contains("tA"), "{list}: the error shows no token: {err}");
        }
    }

    #[test]
    fn a_jwt_names_its_sub_and_its_role_by_claim_or_scope() {
        let s = settings(&[("JOBQ_JWT_ROLE_CLAIM", "custom:role")]).expect("ok");
        let jwt = |claims: &[(&str, &str)], scopes: &[&str]| Credentials::Jwt {
            claims: claims.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            scopes: scopes.iter().map(|s| (*s).into()).collect(),
        };
        let by_claim = s.caller(&jwt(&[("sub", "u-1"), ("custom:role", "viewer")], &["jobq:admin"]));
        assert_eq!(
            by_claim,
            Ok(Caller::new("u-1", Role::Viewer).expect("u-1")),
            "the claim wins over scopes"
        );
        let by_scope = s.caller(&jwt(&[("sub", "u-2")], &["openid", "jobq/executor", "jobq:submitter"]));
        assert_eq!(by_scope.map(|c| c.role), Ok(Role::Submitter), "the most able scope");
        assert!(matches!(s.caller(&jwt(&[("sub", "u-3")], &["openid"])), Err(IdentityError::NoRole(_))));
        assert!(matches!(
            s.caller(&jwt(&[("sub", "u-4"), ("custom:role", "root")], &[])),
            Err(IdentityError::NoRole(_))
        ));
        assert!(matches!(
            s.caller(&jwt(&[("custom:role", "admin")], &[])),
            Err(IdentityError::Unauthenticated(_))
        ));
        let system = s.caller(&jwt(&[("sub", "jobq:scheduler"), ("custom:role", "admin")], &[]));
        assert!(matches!(system, Err(IdentityError::Unauthenticated(_))), "no JWT names a system caller");
    }

    #[test]
    fn an_iam_principal_takes_the_role_of_the_first_pattern_it_matches() {
        let roles = r#"{"arn:aws:sts::*:assumed-role/ops-*/*": "admin", "arn:aws:iam::*:user/*": "viewer"}"#;
        let s = settings(&[("JOBQ_IAM_ROLES", roles)]).expect("ok");
        let iam = |arn: &str| s.caller(&Credentials::Iam { arn: arn.into() }).map(|c| c.role);
        assert_eq!(iam("arn:aws:sts::111122223333:assumed-role/ops-deploy/s1"), Ok(Role::Admin));
        assert_eq!(iam("arn:aws:iam::111122223333:user/dana"), Ok(Role::Viewer));
        assert!(matches!(
            iam("arn:aws:sts::111122223333:assumed-role/web/s1"),
            Err(IdentityError::NoRole(_))
        ));
        let bad =
            settings(&[("JOBQ_IAM_ROLES", r#"{"arn:*": "root"}"#)]).expect_err("unknown role").to_string();
        assert!(bad.contains("JOBQ_IAM_ROLES") && bad.contains("root"), "{bad}");
    }

    #[test]
    fn without_patterns_iam_policies_alone_decide() {
        let s = settings(&[]).expect("ok");
        let arn = "arn:aws:iam::111122223333:user/dana";
        assert_eq!(
            s.caller(&Credentials::Iam { arn: arn.into() }),
            Ok(Caller::new(arn, Role::Admin).expect("arn"))
        );
    }

    #[test]
    fn a_token_matches_only_itself() {
        assert!(token_matches("s3cret-token", "s3cret-token"));
        for wrong in ["", "s3cret", "s3cret-tokem", "s3cret-token ", "S3CRET-TOKEN"] {
            assert!(!token_matches(wrong, "s3cret-token"), "{wrong:?}");
        }
    }

    #[test]
    fn arn_patterns_match_whole_arns() {
        assert!(arn_matches("arn:aws:iam::1:user/a", "arn:aws:iam::1:user/a"));
        assert!(!arn_matches("arn:aws:iam::1:user/a", "arn:aws:iam::1:user/ab"));
        assert!(arn_matches("*", "anything"));
        assert!(arn_matches("a*b*c", "a-x-b-y-c"));
        assert!(!arn_matches("a*b*c", "a-x-c"));
        assert!(!arn_matches("ab*ba", "aba"), "parts may not overlap");
        assert!(arn_matches("ab*ba", "abba"));
    }
}
