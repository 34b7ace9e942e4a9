//! Which action each route is, so a caller's role is checked once, before the route runs.

use crate::domain::caller::Action;

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with or without credentials (health, the document, the dashboard's page).
    Open,
    /// A caller whose role allows the action.
    Needs(Action),
}

/// Pure: the access a route (`method` in lower case, `path` as the router names it) needs;
/// `None` for a route the API does not have.
pub fn route_access(method: &str, path: &str) -> Option<Access> {
    use Action::*;
    let needs = |action| Some(Access::Needs(action));
    match (method, path) {
        ("get", "/health" | "/openapi.json" | "/dashboard") => Some(Access::Open),
        ("post", "/jobs" | "/jobs/batch") => needs(Enqueue),
        ("get", "/jobs") => needs(List),
        ("post", "/jobs/retry") => needs(RetryAll),
        ("get", "/jobs/{id}") => needs(Read),
        ("patch", "/jobs/{id}") => needs(Report),
        ("post", "/jobs/{id}/cancel") => needs(Cancel),
        ("post", "/jobs/{id}/retry") => needs(Retry),
        ("get", "/batches/{id}") => needs(ReadBatch),
        ("get", "/stats" | "/metrics") => needs(ReadStats),
        ("get", "/pause") => needs(ReadPauses),
        ("get", "/me") => needs(WhoAmI),
        ("post", "/pause" | "/resume") => needs(Pause),
        _ => None,
    }
}

/// Pure: whether anyone may use `path` (by GET, as every open route is read): another method on it
/// hides nothing, so it answers 405 with or without credentials.
pub fn open_path(path: &str) -> bool {
    route_access("get", path) == Some(Access::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::caller::Role;

    #[test]
    fn every_route_of_the_api_has_its_access() {
        for (method, path) in crate::api::ROUTES {
            assert!(route_access(method, path).is_some(), "{method} {path} has no access rule");
        }
        assert_eq!(route_access("delete", "/jobs/{id}"), None);
        assert!(open_path("/health") && open_path("/dashboard") && open_path("/openapi.json"));
        assert!(!open_path("/jobs") && !open_path("/pause") && !open_path("/favicon.ico"));
    }

    #[test]
    fn roles_reach_the_routes_their_names_say() {
        let reaches = |role: Role| {
            let mut routes: Vec<String> = crate::api::ROUTES
                .iter()
                .filter(|(m, p)| match route_access(m, p) {
                    Some(Access::Needs(action)) => role.allows(action),
                    _ => false,
                })
                .map(|(m, p)| format!("{m} {p}"))
                .collect();
            routes.sort();
            routes
        };
        assert_eq!(
            reaches(Role::Submitter),
            [
                "get /batches/{id}",
                "get /jobs",
                "get /jobs/{id}",
                "get /me",
                "post /jobs",
                "post /jobs/batch",
                "post /jobs/{id}/cancel",
                "post /jobs/{id}/retry"
            ]
        );
        assert_eq!(
            reaches(Role::Viewer),
            [
                "get /batches/{id}",
                "get /jobs",
                "get /jobs/{id}",
                "get /me",
                "get /metrics",
                "get /pause",
                "get /stats"
            ]
        );
        assert_eq!(reaches(Role::Executor), ["get /jobs/{id}", "get /me", "patch /jobs/{id}"]);
        let open =
            crate::api::ROUTES.iter().filter(|(m, p)| route_access(m, p) == Some(Access::Open)).count();
        assert_eq!(
            reaches(Role::Admin).len() + open,
            crate::api::ROUTES.len(),
            "an admin reaches every route"
        );
    }
}
