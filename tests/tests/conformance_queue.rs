//! The message-queue conformance suite (`jobq_integration_tests::conformance::queue`), every case
//! once against the in-memory adapter and once against the SQS adapter on the emulator.

use jobq_integration_tests::conformance::queue::{self, EmulatorQueueFixture, MemoryQueueFixture};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    queue::$case(&MemoryQueueFixture::new()).await;
                }
            )*
        }

        mod emulator {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    queue::$case(&EmulatorQueueFixture::new().await).await;
                }
            )*
        }
    };
}

conformance!(
    round_trip_with_attributes,
    visibility_hides_and_returns,
    change_visibility_extends_and_releases,
    change_visibility_batch_reports_failures_by_entry,
    delay_hides_until_due,
    receive_count_grows,
    redrive_at_max_receive_count,
    batch_send_reports_entry_failures,
    batch_of_eleven_refused,
    oversize_message_refused,
    stale_receipt_delete,
    depth_counts,
    received_messages_carry_their_send_time,
    missing_queue_refused,
);

/// Not a conformance case: how the SQS adapter sorts failures it can only meet on the wire. Each
/// fault is injected by a proxy in front of the emulator, with the SDK trying once, so the
/// adapter sees it. (The memory side's counterpart is `MemoryQueues::throttle_next`.)
#[tokio::test]
async fn the_sqs_adapter_calls_throttling_server_errors_and_lost_answers_transient() {
    use jobq::adapters::aws::SqsMessageQueue;
    use jobq::adapters::memory::QueueSettings;
    use jobq::queue::{MessageQueue, NewMessage};
    use jobq_integration_tests::conformance::queue::QueueFixture;
    use jobq_integration_tests::fault_proxy::{Fault, FaultPlan, FaultProxy};

    let fixture = EmulatorQueueFixture::new().await;
    let url = fixture.create_queue(QueueSettings::new(30)).await;
    let (sdk, endpoint) = jobq_integration_tests::emulator_sdk().await;
    let proxy = FaultProxy::start(&endpoint, FaultPlan::none()).await;
    let config = aws_sdk_sqs::config::Builder::from(&sdk)
        .endpoint_url(proxy.url())
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    let port = SqsMessageQueue::new(aws_sdk_sqs::Client::from_conf(config));
    for fault in [Fault::ServerError, Fault::Throttle, Fault::DropBefore, Fault::DropAfter] {
        proxy.inject_next("SQS:SendMessage", fault);
        let err = port.send(&url, &NewMessage::new("m", 0)).await.expect_err("the fault reaches the adapter");
        assert!(err.is_transient(), "{fault:?}: {err}");
    }
    let refused = port.send(&url, &NewMessage::new("m", 901)).await.expect_err("refused");
    assert!(!refused.is_transient(), "{refused}");
    // DropAfter delivered its message; the others never reached the emulator.
    assert_eq!(port.depth(&url).await.expect("depth").visible, 1);
}
