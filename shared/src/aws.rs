//! AWS SDK clients, built once per process from the default credential and region chain.
//! The endpoint comes only from `AWS_ENDPOINT_URL` (LocalStack, moto), which the SDK reads itself.

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub async fn from_env() -> Self {
        Self::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    pub fn new(config: &SdkConfig) -> Self {
        // Emulators serve buckets by path, not by virtual host name.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }
}
