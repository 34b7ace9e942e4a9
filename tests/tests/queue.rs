//! The SQS adapter and the provisioned queues against the emulator.

use std::collections::HashMap;

use jobq::adapters::aws::requests::total;
use jobq::queue::TierQueues;
use jobq::resources::MAX_RECEIVE_COUNT;
use jobq::{Envelope, PriorityTier};
use jobq_integration_tests::TestEnv;

fn envelope(i: usize, tier: PriorityTier) -> Envelope {
    Envelope::new(format!("job-{i}"), "noop", tier, 0)
}

async fn drain(queue: &TierQueues, tier: PriorityTier, expected: usize) -> Vec<Envelope> {
    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() >= expected {
            break;
        }
        let batch = queue.receive(tier, 10, 1, Some(60)).await.expect("receive");
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
        got.extend(batch.iter().map(|m| Envelope::decode(&m.body).expect("envelope")));
        if !receipts.is_empty() {
            assert!(queue.delete_batch(tier, &receipts).await.expect("delete").is_empty());
        }
    }
    got
}

#[tokio::test]
async fn an_envelope_reaches_its_tier_queue_and_nothing_else() {
    let env = TestEnv::new().await;
    let queues = env.queues();
    let sent = envelope(1, PriorityTier::Normal);
    queues.send(&sent, 0).await.expect("send");
    let got = queues.receive(PriorityTier::Normal, 10, 1, None).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(Envelope::decode(&got[0].body).expect("decode"), sent);
    assert_eq!(got[0].receive_count, 1);
    assert!(queues.receive(PriorityTier::High, 10, 0, None).await.expect("receive").is_empty());
    assert!(queues.receive(PriorityTier::Low, 10, 0, None).await.expect("receive").is_empty());
}

#[tokio::test]
async fn batch_sends_group_by_tier_ten_to_a_request() {
    let env = TestEnv::new().await;
    let queues = env.queues();
    // 12 high, 9 normal, 4 low: ceil(12/10) + 1 + 1 = 4 requests.
    let tiers = [(PriorityTier::High, 12), (PriorityTier::Normal, 9), (PriorityTier::Low, 4)];
    let mut messages = Vec::new();
    for (tier, count) in tiers {
        for _ in 0..count {
            messages.push((envelope(messages.len(), tier), 0));
        }
    }
    let before = env.requests.snapshot();
    let failures = queues.send_batch(&messages).await.expect("send batch");
    let requests = env.requests.since(&before);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(requests.get("SQS:SendMessageBatch"), Some(&4), "{requests:?}");
    assert_eq!(total(&requests, "SQS"), 4);

    for (tier, count) in tiers {
        let got = drain(&queues, tier, count).await;
        assert_eq!(got.len(), count, "{tier}");
        assert!(got.iter().all(|e| e.tier == tier));
    }
}

#[tokio::test]
async fn a_delayed_message_stays_hidden_until_due() {
    let env = TestEnv::new().await;
    let queues = env.queues();
    queues.send(&envelope(1, PriorityTier::Low), 2).await.expect("send delayed");
    let depth = queues.depth(PriorityTier::Low).await.expect("depth");
    assert_eq!((depth.visible, depth.delayed), (0, 1));
    assert!(queues.receive(PriorityTier::Low, 1, 0, None).await.expect("receive").is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_eq!(queues.receive(PriorityTier::Low, 1, 1, None).await.expect("receive").len(), 1);
}

#[tokio::test]
async fn deleting_the_same_receipt_twice_in_one_batch_is_not_an_error() {
    let env = TestEnv::new().await;
    let queues = env.queues();
    queues.send(&envelope(1, PriorityTier::High), 0).await.expect("send");
    let got = queues.receive(PriorityTier::High, 1, 1, Some(0)).await.expect("receive");
    let receipt = got[0].receipt_handle.clone();
    let failures =
        queues.delete_batch(PriorityTier::High, &[receipt.clone(), receipt]).await.expect("delete");
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(queues.depth(PriorityTier::High).await.expect("depth"), Default::default());
}

#[tokio::test]
async fn a_message_received_more_than_the_redrive_allows_lands_in_its_tiers_dlq() {
    let env = TestEnv::new().await;
    let queues = env.queues();
    let dlqs = env.dlqs();
    let sent = envelope(9, PriorityTier::Normal);
    queues.send(&sent, 0).await.expect("send");

    // Each receive with visibility 0 returns the message at once, as a crashing worker would.
    let mut receives = 0;
    for _ in 0..MAX_RECEIVE_COUNT {
        let got = queues.receive(PriorityTier::Normal, 1, 1, Some(0)).await.expect("receive");
        assert_eq!(got.len(), 1, "delivered while under the redrive limit");
        receives += 1;
        assert_eq!(got[0].receive_count, receives);
    }
    let after = queues.receive(PriorityTier::Normal, 1, 1, Some(0)).await.expect("receive");
    assert!(after.is_empty(), "moved out of the tier queue after {MAX_RECEIVE_COUNT} receives");

    let dead = dlqs.receive(PriorityTier::Normal, 10, 1, None).await.expect("receive dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(Envelope::decode(&dead[0].body).expect("decode"), sent);
    for tier in [PriorityTier::High, PriorityTier::Low] {
        assert!(dlqs.receive(tier, 10, 0, None).await.expect("receive").is_empty(), "{tier} DLQ stays empty");
    }
}

#[tokio::test]
async fn provisioning_is_idempotent_and_matches_the_resource_definitions() {
    let env = TestEnv::new().await;
    let again =
        jobq::adapters::aws::provision::provision(&env.clients, &env.names).await.expect("second provision");
    assert_eq!(again, env.provisioned);

    let table =
        env.clients.dynamodb.describe_table().table_name(&env.config.table).send().await.expect("table");
    let table = table.table().expect("description");
    let mut indexes: Vec<&str> =
        table.global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, ["by-created", "by-due", "by-status"]);
    let ttl =
        env.clients.dynamodb.describe_time_to_live().table_name(&env.config.table).send().await.expect("ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));

    let attrs = env
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(env.config.queues.get(PriorityTier::High))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let attrs: HashMap<String, String> =
        attrs.attributes().into_iter().flatten().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect();
    let redrive: serde_json::Value = serde_json::from_str(&attrs["RedrivePolicy"]).expect("redrive json");
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), MAX_RECEIVE_COUNT.to_string());
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&env.names.dlq(PriorityTier::High)))
    );
    assert_eq!(attrs["VisibilityTimeout"], jobq::resources::QUEUE_VISIBILITY_TIMEOUT_SECONDS.to_string());
}
