//! Fixtures for tests against a real AWS emulator (moto_server locally, LocalStack in CI).
//!
//! Each [`TestEnv`] provisions its own table, queues and bucket under a unique prefix, so tests
//! run in parallel without seeing each other's jobs or messages.

use aws_config::{BehaviorVersion, Region};
use jobq::Config;
use jobq::aws::Clients;
use jobq::provision::{Provisioned, provision};
use jobq::queue::SqsJobQueue;
use jobq::requests::RequestCounter;
use jobq::resources::ResourceNames;
use jobq::store::DynamoJobStore;

const HOW_TO_RUN: &str = "Integration tests need an AWS emulator. Run `make test` (it installs and starts \
moto_server on 127.0.0.1:4566), or start one yourself (`make emulator`, or LocalStack) and export \
AWS_ENDPOINT_URL=http://127.0.0.1:4566";

#[derive(Debug)]
pub struct TestEnv {
    pub clients: Clients,
    pub names: ResourceNames,
    pub provisioned: Provisioned,
    pub config: Config,
    /// Counts every AWS request the clients above make.
    pub requests: RequestCounter,
}

impl TestEnv {
    /// Provision a fresh, isolated set of resources. Panics with instructions when there is no
    /// emulator: these tests never pass by skipping.
    pub async fn new() -> TestEnv {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set. {HOW_TO_RUN}"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(Region::new("us-east-1"));
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "jobq-tests",
            ));
        }
        let sdk = loader.load().await;
        let requests = RequestCounter::default();
        let clients = Clients::counted(&sdk, &requests);
        let names = ResourceNames::new(unique_prefix());
        let provisioned = provision(&clients, &names).await.unwrap_or_else(|e| {
            panic!("cannot provision on the emulator at {endpoint}: {e:#?}\n{HOW_TO_RUN}")
        });
        let config = Config::from_provisioned(&provisioned);
        TestEnv { clients, names, provisioned, config, requests }
    }

    pub fn store(&self) -> DynamoJobStore {
        DynamoJobStore::new(self.clients.dynamodb.clone(), &self.config.table, self.config.retention)
    }

    pub fn queues(&self) -> SqsJobQueue {
        SqsJobQueue::new(self.clients.sqs.clone(), self.config.queues.clone())
    }

    pub fn dlqs(&self) -> SqsJobQueue {
        SqsJobQueue::new(self.clients.sqs.clone(), self.config.dlqs.clone())
    }
}

/// Lowercase letters and digits only: valid in table, queue and bucket names alike.
fn unique_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}-", &id[..12])
}
