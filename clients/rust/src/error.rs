//! What a call to the API can end with, other than its answer.

/// Why a call did not return what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API's own refusal: its status, code and message, and the field at fault.
    #[error("{message}{}", field.as_ref().map(|f| format!(" (field: {f})")).unwrap_or_default())]
    Api { status: u16, code: String, message: String, field: Option<String> },
    /// No answer: the address is wrong, or the API is down.
    #[error("cannot reach the jobq API at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    /// An answer that is not what the API documents (a proxy's page, another service).
    #[error("the answer to {path} is not the API's: {reason}")]
    Unexpected { path: String, reason: String },
    /// The request could not be signed (no credentials or region for SigV4).
    #[error("signing the request: {0}")]
    Signing(String),
    /// A payload that does not serialize.
    #[error("the payload cannot be written as JSON: {0}")]
    Payload(#[from] serde_json::Error),
}

impl ClientError {
    /// The API's error from a non-2xx answer: its JSON error shape, or the text as it came.
    pub fn from_answer(status: u16, body: &[u8]) -> Self {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let error = &json["error"];
        ClientError::Api {
            status,
            code: error["code"].as_str().unwrap_or("http_error").to_owned(),
            message: error["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
                format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(body).chars().take(300).collect::<String>()
                )
            }),
            field: error["field"].as_str().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_error_shape_is_read_and_anything_else_kept_as_text() {
        let body =
            br#"{"error": {"code": "invalid_field", "message": "bad width", "field": "payload.width"}}"#;
        let err = ClientError::from_answer(422, body);
        assert!(matches!(&err, ClientError::Api { status: 422, code, field: Some(f), .. }
            if code == "invalid_field" && f == "payload.width"));
        assert_eq!(err.to_string(), "bad width (field: payload.width)");
        let err = ClientError::from_answer(502, b"<html>Bad Gateway</html>");
        assert!(matches!(&err, ClientError::Api { code, message, field: None, .. }
            if code == "http_error" && message.contains("Bad Gateway")));
    }
}
