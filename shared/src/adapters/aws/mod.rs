//! AWS SDK clients, built once per process from the default credential and region chain.
//! The endpoint comes only from `AWS_ENDPOINT_URL` (LocalStack, moto), which the SDK reads itself.

pub mod expr;
pub mod provision;
pub mod requests;
pub mod s3;
pub mod sqs;
pub mod streams;
pub mod table;

use aws_config::{BehaviorVersion, SdkConfig};

pub use s3::S3Blobs;
pub use sqs::SqsMessageQueue;
pub use streams::DynamoStreamFeed;
pub use table::DynamoTable;

use crate::adapters::aws::requests::RequestCounter;

#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    /// The table's change stream, for hosts with no event source mapping (the local host).
    pub streams: aws_sdk_dynamodbstreams::Client,
}

impl Clients {
    pub async fn from_env() -> Self {
        Self::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    pub fn new(config: &SdkConfig) -> Self {
        Self::build(config, None)
    }

    /// Clients whose every request is counted by `counter`.
    pub fn counted(config: &SdkConfig, counter: &RequestCounter) -> Self {
        Self::build(config, Some(counter))
    }

    fn build(config: &SdkConfig, counter: Option<&RequestCounter>) -> Self {
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(config);
        let mut sqs = aws_sdk_sqs::config::Builder::from(config);
        let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(config);
        // Emulators serve buckets by path, not by virtual host name.
        let mut s3 =
            aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
        if let Some(counter) = counter {
            dynamodb = dynamodb.interceptor(counter.clone());
            sqs = sqs.interceptor(counter.clone());
            s3 = s3.interceptor(counter.clone());
            streams = streams.interceptor(counter.clone());
        }
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            streams: aws_sdk_dynamodbstreams::Client::from_conf(streams.build()),
        }
    }
}

/// The SDK's Display of a service error says only "service error": keep its code and message,
/// so logs and API errors say what AWS said.
pub(crate) fn with_context(
    source: Box<dyn std::error::Error + Send + Sync>,
) -> Box<dyn std::error::Error + Send + Sync> {
    aws_smithy_types::error::display::DisplayErrorContext(source.as_ref()).to_string().into()
}
