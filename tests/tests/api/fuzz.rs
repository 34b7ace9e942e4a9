//! The API under generated input (proptest): whatever a request's body, bytes or query, no answer
//! is a 5xx, and an error has the documented shape.

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    api: axum::Router,
    _env: TestEnv,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let env = runtime.block_on(TestEnv::new());
        let api = env.api(ApiSettings { max_payload_bytes: 4096, ..ApiSettings::default() });
        Fixture { runtime, api, _env: env }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        prop_oneof![Just("noop"), Just("echo"), Just("high"), Just("failed"), Just("queue:low")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            Just("type".to_owned()),
            Just("payload".to_owned()),
            Just("priority".to_owned()),
            Just("jobs".to_owned()),
            Just("status".to_owned()),
            Just("next".to_owned()),
            Just("delay_seconds".to_owned()),
            Just("run_at".to_owned()),
            Just("progress".to_owned()),
            Just("scope".to_owned()),
            Just("error".to_owned()),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn route() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![
        Just(("POST", "/jobs")),
        Just(("POST", "/jobs/batch")),
        Just(("POST", "/jobs/retry")),
        Just(("PATCH", "/jobs/x")),
        Just(("POST", "/jobs/x/retry")),
        Just(("POST", "/pause")),
        Just(("POST", "/resume")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn bad_bodies_never_cause_a_5xx((method, path) in route(), body in json_value()) {
        let f = fixture();
        let (status, response) = f.runtime.block_on(call(&f.api, method, path, Some(body.clone())));
        prop_assert!(!status.is_server_error(), "{method} {path} {body} -> {status} {response}");
        if !status.is_success() {
            prop_assert!(response["error"]["code"].is_string(), "error shape: {response}");
        }
    }

    #[test]
    fn raw_bytes_and_odd_queries_never_cause_a_5xx(bytes in prop::collection::vec(any::<u8>(), 0..64), query in "[a-z_=&%0-9]{0,30}") {
        let f = fixture();
        let (status, _) = f.runtime.block_on(call_raw(&f.api, "POST", "/jobs", Some("application/json"), bytes, None));
        prop_assert!(!status.is_server_error());
        let (status, _) = f.runtime.block_on(call(&f.api, "GET", &format!("/jobs?{query}"), None));
        prop_assert!(!status.is_server_error(), "GET /jobs?{query} -> {status}");
    }
}
