//! Owners through the local stack with `JOBQ_API_TOKENS`: two submitters' jobs stay apart, the
//! same key from each makes two jobs, an admin's enqueue for an owner lists under that owner, and
//! `jobq list --mine` asks the API who the caller is.

mod common;

use std::process::Command;

use common::{LocalHost, unique_prefix};
use jobq::NewJob;
use jobq::domain::caller::Role;
use jobq_client::{Auth, Client, ClientError, ListFilter};
use serde_json::json;

const TOKENS: &str = "tA=alice:submitter,tB=bob:submitter,tX=ops:admin";

fn client(host: &LocalHost, token: &str) -> Client {
    Client::new(&host.url, Auth::Bearer(token.into()))
}

fn keyed(key: &str) -> NewJob {
    NewJob {
        job_type: "echo".into(),
        payload: json!({}),
        idempotency_key: Some(key.into()),
        ..NewJob::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_submitters_jobs_stay_apart() {
    let host = LocalHost::start_with(&unique_prefix(), &[("JOBQ_API_TOKENS", TOKENS)]).await;
    let (alice, bob, ops) = (client(&host, "tA"), client(&host, "tB"), client(&host, "tX"));
    let me = alice.me().await.expect("me");
    assert_eq!((me.owner.as_str(), me.role), ("alice", Role::Submitter));

    let a = alice.enqueue_job(&keyed("order-1")).await.expect("alice");
    let b = bob.enqueue_job(&keyed("order-1")).await.expect("bob");
    assert_ne!(a.id, b.id, "the same key from each makes two jobs");
    let for_alice = NewJob { owner: Some("alice".into()), group: Some("book:1".into()), ..keyed("order-2") };
    let on_behalf = ops.enqueue_job(&for_alice).await.expect("admin for alice");
    assert_eq!(on_behalf.owner.as_deref(), Some("alice"));

    let ids = |page: jobq_client::JobPage| {
        let mut ids: Vec<String> = page.jobs.into_iter().map(|j| j.id).collect();
        ids.sort();
        ids
    };
    let mut alices = vec![a.id.clone(), on_behalf.id.clone()];
    alices.sort();
    assert_eq!(ids(alice.list(&ListFilter::default()).await.expect("list")), alices);
    assert_eq!(ids(bob.list(&ListFilter::default()).await.expect("list")), [b.id.as_str()]);
    let group = ListFilter { group: Some("book:1".into()), ..ListFilter::default() };
    assert_eq!(ids(alice.list(&group).await.expect("group")), [on_behalf.id.as_str()]);
    match bob.get(&a.id).await {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("bob reads alice's job: {other:?}"),
    }
    assert_eq!(ops.get(&a.id).await.expect("admin reads it").owner.as_deref(), Some("alice"));

    let listed = Command::new(env!("CARGO_BIN_EXE_jobq"))
        .args(["list", "--mine", "--json"])
        .env("JOBQ_API_URL", &host.url)
        .env("JOBQ_API_TOKEN", "tB")
        .output()
        .expect("jobq list --mine");
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let page: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let owners: Vec<&str> =
        page["jobs"].as_array().expect("jobs").iter().filter_map(|j| j["owner"].as_str()).collect();
    assert_eq!(owners, ["bob"]);
}
