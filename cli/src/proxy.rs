//! `jobq dashboard`: the dashboard through a proxy on 127.0.0.1 that adds this command's
//! credentials (bearer token or SigV4) to every request. A browser cannot sign requests for an
//! IAM-protected API Gateway, nor present a JWT on navigation; this proxy can.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::client::{CliError, Client};

/// Response headers passed back as they are (the page's Content-Security-Policy among them).
const PASSED_BACK: [header::HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_SECURITY_POLICY,
    header::CACHE_CONTROL,
    header::X_CONTENT_TYPE_OPTIONS,
    header::REFERRER_POLICY,
    header::RETRY_AFTER,
];

#[derive(Debug)]
struct Proxy {
    client: Client,
    addr: SocketAddr,
}

/// Serve until Ctrl-C.
pub async fn serve(client: Client, port: u16) -> Result<u8, CliError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| CliError::Usage(e.to_string()))?;
    // Not println!: a closed stdout (a pipe whose reader went away) must not stop the proxy.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Dashboard: http://{addr}/dashboard");
    let _ = writeln!(out, "(to {} with {}; Ctrl-C stops)", client.base(), client.auth().name());
    let _ = out.flush();
    let app = Router::new().fallback(forward).with_state(Arc::new(Proxy { client, addr }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| CliError::Usage(format!("the proxy stopped: {e}")))?;
    Ok(0)
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(reason) = allowed(&proxy.addr, &method, &headers) {
        return error(StatusCode::FORBIDDEN, "forbidden", reason);
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let method = match reqwest::Method::from_bytes(method.as_str().as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "unknown method".into());
        }
    };
    let upstream = match proxy.client.request(method, path, body.to_vec()).await {
        Ok(response) => response,
        Err(err) => return error(StatusCode::BAD_GATEWAY, "bad_gateway", err.to_string()),
    };
    let status = StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::builder().status(status);
    for name in PASSED_BACK {
        if let Some(value) = upstream.headers().get(name.as_str()).and_then(|v| v.to_str().ok()) {
            response = response.header(name, value);
        }
    }
    match upstream.bytes().await {
        Ok(bytes) => {
            response.body(Body::from(bytes)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(err) => error(StatusCode::BAD_GATEWAY, "bad_gateway", err.to_string()),
    }
}

/// The proxy acts with the operator's credentials, so only the page it serves may use it:
/// the Host must be the proxy's own (no DNS rebinding), and a browser's writes must come from
/// the proxy's own origin (no cross-site requests from other pages open in the same browser).
fn allowed(addr: &SocketAddr, method: &Method, headers: &HeaderMap) -> Result<(), String> {
    let own_hosts = [addr.to_string(), format!("localhost:{}", addr.port())];
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !own_hosts.iter().any(|h| h == host) {
        return Err(format!("Host {host:?} is not this proxy ({})", own_hosts.join(" or ")));
    }
    if method != Method::GET && method != Method::HEAD {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if let Some(origin) = origin
            && !own_hosts.iter().any(|h| origin == format!("http://{h}"))
        {
            return Err(format!("requests from {origin} may not act through this proxy"));
        }
    }
    Ok(())
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, axum::Json(json!({ "error": { "code": code, "message": message, "field": null } })))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn only_the_proxys_own_host_and_origin_may_use_it() {
        let addr: SocketAddr = "127.0.0.1:8090".parse().expect("addr");
        let own = headers(&[(header::HOST, "127.0.0.1:8090")]);
        assert!(allowed(&addr, &Method::GET, &own).is_ok());
        assert!(allowed(&addr, &Method::GET, &headers(&[(header::HOST, "localhost:8090")])).is_ok());
        // DNS rebinding: a foreign name resolving to 127.0.0.1.
        assert!(allowed(&addr, &Method::GET, &headers(&[(header::HOST, "evil.example:8090")])).is_err());
        // Writes: from the page itself, or from a non-browser client (no Origin).
        let same = headers(&[(header::HOST, "127.0.0.1:8090"), (header::ORIGIN, "http://127.0.0.1:8090")]);
        assert!(allowed(&addr, &Method::POST, &same).is_ok());
        assert!(allowed(&addr, &Method::POST, &own).is_ok());
        let foreign = headers(&[(header::HOST, "127.0.0.1:8090"), (header::ORIGIN, "https://evil.example")]);
        assert!(allowed(&addr, &Method::POST, &foreign).is_err());
        assert!(allowed(&addr, &Method::GET, &foreign).is_ok(), "reads are guarded by the browser's CORS");
    }
}
