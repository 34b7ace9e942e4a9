//! `GET /dashboard`: one page embedded in the binary (no build step, no separate server). It holds
//! no data: its script reads the API's own routes with the same token as any client, so the page
//! itself is open like `/openapi.json`, and every figure and action on it is authorised as usual.

use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("dashboard.html");

/// The live dashboard page; it reads /me, /stats, /jobs and /batches with the API's token, and
/// each route's roles from /openapi.json, to leave out what the caller's role may not use.
///
/// Each response has a fresh nonce: its Content-Security-Policy allows only the page's own inline
/// script and style, and requests to this origin.
#[utoipa::path(get, path = "/dashboard", operation_id = "dashboard",
    responses((status = 200, description = "the page", body = String, content_type = "text/html")))]
pub async fn page() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (body, csp) = render(&nonce);
    let headers: [(HeaderName, String); 5] = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8".into()),
        (header::CACHE_CONTROL, "no-store".into()),
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::REFERRER_POLICY, "no-referrer".into()),
    ];
    (headers, body).into_response()
}

fn render(nonce: &str) -> (String, String) {
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
         img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    (PAGE.replace("{{nonce}}", nonce), csp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_and_style_carries_the_nonce_the_policy_allows() {
        let (body, csp) = render("abc123");
        assert!(!body.contains("{{nonce}}"));
        let scripts = body.matches("<script").count();
        let styles = body.matches("<style").count();
        assert!(scripts >= 1 && styles >= 1);
        assert_eq!(body.matches("<script nonce=\"abc123\">").count(), scripts);
        assert_eq!(body.matches("<style nonce=\"abc123\">").count(), styles);
        assert!(csp.contains("script-src 'nonce-abc123'") && !csp.contains("unsafe-inline"));
        // Inline handlers and style attributes would be blocked by the policy: there must be none.
        assert!(!body.contains(" onclick=") && !body.contains(" style=\""));
    }

    #[test]
    fn the_page_reads_only_documented_routes_relative_to_itself() {
        let (body, _) = render("n");
        for route in [
            "\"stats\"",
            "\"jobs?limit=\"",
            "\"jobs?status=failed&limit=\"",
            "\"batches/\"",
            "\"me\"",
            "\"openapi.json\"",
        ] {
            assert!(body.contains(route), "{route}");
        }
        // Absolute paths would break the page under an API Gateway stage path.
        assert!(!body.contains("fetch(\"/") && !body.contains("api(\"GET\", \"/"));
    }

    #[test]
    fn the_page_asks_the_document_about_routes_that_need_a_role() {
        let (body, _) = render("n");
        // It learns each route's roles from the document's extension, under that name.
        assert!(body.contains(&format!("[\"{}\"]", crate::api::security::ROLES_EXTENSION)));
        // Every `may("method", "/route")` names a route the document gives roles: a misspelt one
        // would be taken for open, and show a control the caller may not use.
        fn quoted(rest: &str) -> Option<&str> {
            rest.split_once('"').map(|(text, _)| text)
        }
        let mut asked: Vec<(&str, &str)> = body
            .split("may(\"")
            .skip(1)
            .filter_map(|rest| {
                let method = quoted(rest)?;
                // The route only when it is written out, right after the method.
                let route = rest[method.len()..].strip_prefix("\", \"")?;
                Some((method, quoted(route)?))
            })
            .collect();
        // `readable("/route", …)` reads with GET.
        asked.extend(body.split("readable(\"").skip(1).filter_map(|rest| Some(("get", quoted(rest)?))));
        assert!(asked.len() >= 7, "{asked:?}");
        for (method, route) in asked {
            assert!(crate::api::security::route_roles(method, route).is_some(), "{method} {route}");
        }
    }

    #[test]
    fn controls_have_accessible_names() {
        let (body, _) = render("n");
        for label in ["\"Retry job \"", "(isPaused ? \"Resume \" : \"Pause \")", "<label for=\"token\">"] {
            assert!(body.contains(label), "{label}");
        }
        assert!(body.contains("<html lang=\"en\">") && body.contains("name=\"viewport\""));
    }
}
