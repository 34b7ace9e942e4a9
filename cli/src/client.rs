//! HTTP to the jobq API: bearer token, or SigV4 for an IAM-protected API Gateway.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use reqwest::Method;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API's own error: its message, and the field at fault.
    #[error("{message}{}", field.as_ref().map(|f| format!(" (field: {f})")).unwrap_or_default())]
    Api { status: u16, code: String, message: String, field: Option<String> },
    #[error("cannot reach the jobq API at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{0}")]
    Usage(String),
    #[error("signing the request: {0}")]
    Signing(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    sigv4: Option<Signer>,
}

/// Signs with the credentials of the default provider chain, resolved again when they near
/// their expiry: SSO, STS and `credential_process` credentials last an hour or less, and a
/// `watch` or the dashboard proxy can outlive them.
#[derive(Debug, Clone)]
struct Signer {
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

impl Client {
    pub async fn new(base: &str, token: Option<String>, sigv4: bool) -> Result<Self, CliError> {
        let sigv4 = if sigv4 {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            let provider = config
                .credentials_provider()
                .ok_or_else(|| CliError::Signing("no AWS credentials found for --sigv4".into()))?;
            let region = config
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| CliError::Signing("no AWS region set".into()))?;
            let signer = Signer { provider, cached: Arc::default(), region };
            // Resolved once now, so missing credentials are said before any request.
            signer.credentials().await?;
            Some(signer)
        } else {
            None
        };
        Ok(Client { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_owned(), token, sigv4 })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Result<Value, CliError> {
        self.send(Method::POST, path, body).await
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// What authenticates this client's requests, for messages.
    pub fn auth(&self) -> &'static str {
        match (&self.sigv4, &self.token) {
            (Some(_), _) => "SigV4",
            (None, Some(_)) => "a bearer token",
            (None, None) => "no credentials",
        }
    }

    /// One request with this client's credentials; `path` includes any query string. A body is
    /// always JSON, as the API takes nothing else.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(signer) = &self.sigv4 {
            let credentials = signer.credentials().await?;
            for (name, value) in signer.headers(credentials, method.as_str(), &url, &body)? {
                request = request.header(name, value);
            }
        }
        request
            .body(body)
            .send()
            .await
            .map_err(|source| CliError::Unreachable { url: self.base.clone(), source })
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, CliError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self.request(method, path, bytes).await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| CliError::Unreachable { url: self.base.clone(), source })?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(json);
        }
        let error = &json["error"];
        Err(CliError::Api {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("http_error").to_owned(),
            message: error["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}: {json}")),
            field: error["field"].as_str().map(str::to_owned),
        })
    }
}

impl Signer {
    /// The cached credentials, or fresh ones from the provider chain when they near expiry.
    async fn credentials(&self) -> Result<Credentials, CliError> {
        let mut cached = self.cached.lock().await;
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(credentials.clone());
        }
        let credentials =
            self.provider.provide_credentials().await.map_err(|e| CliError::Signing(e.to_string()))?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    fn headers(
        &self,
        credentials: Credentials,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CliError> {
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
            .map_err(|e| CliError::Signing(e.to_string()))?
            .into();
        let content_type = [("content-type", "application/json")];
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &content_type };
        let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
            .map_err(|e| CliError::Signing(e.to_string()))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| CliError::Signing(e.to_string()))?.into_parts();
        Ok(instructions.headers().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
    }
}

/// A query value or path segment, percent-encoded: everything but RFC 3986's unreserved
/// characters.
pub fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
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

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("type:a b/c"), "type%3Aa%20b%2Fc");
        assert_eq!(encode("é-x_y.z~"), "%C3%A9-x_y.z~", "UTF-8 bytes; unreserved characters kept");
    }
}
