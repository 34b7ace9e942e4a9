//! What authenticates a call: nothing (local), a bearer token, or SigV4 for an API Gateway
//! protected by IAM, with credentials from the default provider chain.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::ClientError;

/// How requests are authenticated.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials (the local stack).
    #[default]
    None,
    /// `Authorization: Bearer <token>` (`JOBQ_API_TOKEN`, or a JWT).
    Bearer(String),
    /// SigV4 for `execute-api`; build it with [`Auth::sigv4`].
    SigV4(Signer),
}

impl Auth {
    /// SigV4 with the default provider chain's credentials and region, resolved once now so
    /// missing ones are said before any request.
    pub async fn sigv4() -> Result<Auth, ClientError> {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| ClientError::Signing("no AWS credentials found for SigV4".into()))?;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| ClientError::Signing("no AWS region set".into()))?;
        let signer = Signer { provider, cached: Arc::default(), region };
        signer.credentials().await?;
        Ok(Auth::SigV4(signer))
    }

    /// What authenticates the requests, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Auth::SigV4(_) => "SigV4",
            Auth::Bearer(_) => "a bearer token",
            Auth::None => "no credentials",
        }
    }

    /// The headers that authenticate a request of `method` to `url` with `body`.
    pub(crate) async fn headers(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, ClientError> {
        match self {
            Auth::None => Ok(Vec::new()),
            Auth::Bearer(token) => Ok(vec![("authorization".into(), format!("Bearer {token}"))]),
            Auth::SigV4(signer) => signer.headers(signer.credentials().await?, method, url, body),
        }
    }
}

/// Signs with the credentials of the default provider chain, resolved again when they near
/// their expiry: SSO, STS and `credential_process` credentials last an hour or less, and a
/// `watch` or the dashboard proxy can outlive them.
#[derive(Debug, Clone)]
pub struct Signer {
    provider: SharedCredentialsProvider,
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
    region: String,
}

/// Credentials are resolved again this long before they expire (the SDK's own cache does the
/// same), so a request is never signed with credentials that expire on its way.
const REFRESH_BEFORE: Duration = Duration::from_secs(10);

/// Whether `credentials` may still sign a request at `now`.
fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials.expiry().is_none_or(|expiry| expiry > now + REFRESH_BEFORE)
}

impl Signer {
    /// The cached credentials, or fresh ones from the provider chain when they near expiry.
    async fn credentials(&self) -> Result<Credentials, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(credentials.clone());
        }
        let credentials =
            self.provider.provide_credentials().await.map_err(|e| ClientError::Signing(e.to_string()))?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    fn headers(
        &self,
        credentials: Credentials,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, ClientError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ClientError::Signing(e.to_string()))?
            .into();
        let content_type = [("content-type", "application/json")];
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &content_type };
        let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
            .map_err(|e| ClientError::Signing(e.to_string()))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| ClientError::Signing(e.to_string()))?.into_parts();
        Ok(instructions.headers().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_resolved_again_shortly_before_they_expire() {
        let now = SystemTime::now();
        let expiring = |seconds| {
            Credentials::new("AKID", "secret", None, Some(now + Duration::from_secs(seconds)), "test")
        };
        assert!(fresh(&Credentials::new("AKID", "secret", None, None, "test"), now), "long-term keys");
        assert!(fresh(&expiring(3600), now));
        assert!(!fresh(&expiring(5), now), "within the last 10 s: resolved again");
        assert!(!fresh(&expiring(0), now));
    }

    #[tokio::test]
    async fn a_bearer_token_is_one_authorization_header() {
        let headers = Auth::Bearer("t0k".into()).headers("GET", "http://x/jobs", b"").await.expect("headers");
        assert_eq!(headers, [("authorization".to_owned(), "Bearer t0k".to_owned())]);
        assert!(Auth::None.headers("GET", "http://x/jobs", b"").await.expect("none").is_empty());
    }
}
