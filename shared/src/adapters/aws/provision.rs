//! Create every resource jobq needs against the configured endpoint, idempotently: the local
//! stack and the tests use this; in AWS the SAM template creates the same resources.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::adapters::aws::Clients;
use crate::domain::priority::PerTier;
use crate::resources::{QueueSpec, ResourceNames};
use crate::store::keys::{INDEXES, PK, TTL_ATTRIBUTE};

/// What was provisioned: everything a [`crate::config::Config`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub table: String,
    pub queues: PerTier<String>,
    pub dlqs: PerTier<String>,
    pub ingest_queue: String,
    pub ingest_dlq: String,
    pub bucket: String,
}

impl Provisioned {
    /// The configuration naming these resources (local stack, tests), with the default retention.
    pub fn config(&self) -> crate::config::Config {
        crate::config::Config {
            table: self.table.clone(),
            queues: self.queues.clone(),
            dlqs: self.dlqs.clone(),
            ingest_queue: Some(self.ingest_queue.clone()),
            bucket: Some(self.bucket.clone()),
            retention: chrono::Duration::days(crate::config::DEFAULT_RETENTION_DAYS),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("provisioning {resource} failed: {source}")]
pub struct ProvisionError {
    pub resource: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn failed(resource: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ProvisionError {
    ProvisionError {
        resource: resource.to_owned(),
        source: crate::adapters::aws::with_context(source.into()),
    }
}

pub async fn provision(clients: &Clients, names: &ResourceNames) -> Result<Provisioned, ProvisionError> {
    create_table(&clients.dynamodb, &names.table()).await?;
    let mut urls = HashMap::new();
    for spec in names.queue_specs() {
        let url = create_queue(&clients.sqs, &spec, &urls).await?;
        urls.insert(spec.name.clone(), url);
    }
    create_bucket(&clients.s3, &names.bucket()).await?;
    expire_store_objects(&clients.s3, &names.bucket()).await?;
    let url = |name: String| urls.get(&name).cloned().unwrap_or_default();
    notify_ingest_queue(clients, &names.bucket(), &url(names.ingest_queue())).await?;
    Ok(Provisioned {
        table: names.table(),
        queues: PerTier::from_fn(|t| url(names.queue(t))),
        dlqs: PerTier::from_fn(|t| url(names.dlq(t))),
        ingest_queue: url(names.ingest_queue()),
        ingest_dlq: url(names.ingest_dlq()),
        bucket: names.bucket(),
    })
}

/// The change stream the counters are kept from: every change, with the item before and after.
fn changes() -> Result<StreamSpecification, aws_sdk_dynamodb::error::BuildError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), ProvisionError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| failed(table, e))
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| failed(table, e))
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(changes().map_err(|e| failed(table, e))?)
        .attribute_definitions(string_attr(PK)?)
        .key_schema(key(PK, KeyType::Hash)?);
    for index in INDEXES {
        let projection = if index.projected.is_empty() {
            Projection::builder().projection_type(ProjectionType::KeysOnly).build()
        } else {
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(index.projected.iter().map(|a| a.to_string()).collect()))
                .build()
        };
        request = request
            .attribute_definitions(string_attr(index.pk)?)
            .attribute_definitions(string_attr(index.sk)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.pk, KeyType::Hash)?)
                    .key_schema(key(index.sk, KeyType::Range)?)
                    .projection(projection)
                    .build()
                    .map_err(|e| failed(table, e))?,
            );
    }
    match request.send().await {
        Ok(_) => {}
        // Already there: still make sure TTL is on (an earlier run may have stopped half-way).
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(failed(table, e)),
    }
    finish_table(client, table).await
}

/// Once the table exists: wait for it, and make sure its stream and TTL are on.
async fn finish_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), ProvisionError> {
    // Wait for ACTIVE (instant on emulators, seconds on AWS).
    let mut streaming = false;
    for _ in 0..120 {
        let out = client.describe_table().table_name(table).send().await.map_err(|e| failed(table, e))?;
        streaming = out.table().and_then(|t| t.stream_specification()).is_some_and(|s| s.stream_enabled());
        if out.table().and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // A table made before counters came from its stream.
    if !streaming {
        let spec = changes().map_err(|e| failed(table, e))?;
        client
            .update_table()
            .table_name(table)
            .stream_specification(spec)
            .send()
            .await
            .map_err(|e| failed(table, e))?;
    }
    let ttl = client.describe_time_to_live().table_name(table).send().await.map_err(|e| failed(table, e))?;
    let ttl_on = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING"));
    if ttl_on {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| failed(table, e))?,
        )
        .send()
        .await
        .map_err(|e| failed(table, e))?;
    Ok(())
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    spec: &QueueSpec,
    urls: &HashMap<String, String>,
) -> Result<String, ProvisionError> {
    let mut request = client
        .create_queue()
        .queue_name(&spec.name)
        .attributes(QueueAttributeName::VisibilityTimeout, spec.visibility_timeout.to_string())
        .attributes(QueueAttributeName::MessageRetentionPeriod, spec.retention.to_string());
    if let Some((dlq, max_receive_count)) = &spec.redrive {
        let dlq_url = urls
            .get(dlq)
            .ok_or_else(|| failed(&spec.name, format!("its DLQ {dlq} was not created first")))?;
        let arn = queue_arn(client, dlq_url).await?;
        let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count });
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let out = match request.send().await {
        Ok(out) => out.queue_url().map(str::to_owned),
        // It exists with other attributes (e.g. the local stack's shorter visibility): keep it.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_queue_name_exists()) => client
            .get_queue_url()
            .queue_name(&spec.name)
            .send()
            .await
            .map_err(|e| failed(&spec.name, e))?
            .queue_url()
            .map(str::to_owned),
        Err(e) => return Err(failed(&spec.name, e)),
    };
    out.ok_or_else(|| failed(&spec.name, "CreateQueue returned no URL"))
}

pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, ProvisionError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| failed(url, e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| failed(url, "no QueueArn attribute"))
}

/// Uploads (under [`crate::resources::UPLOADS_PREFIX`] only, not the store's own objects) notify the
/// ingest queue. (In AWS the queue policy must also let S3 send: the template.)
async fn notify_ingest_queue(clients: &Clients, bucket: &str, queue_url: &str) -> Result<(), ProvisionError> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        QueueConfiguration, S3KeyFilter,
    };
    let arn = queue_arn(&clients.sqs, queue_url).await?;
    let uploads =
        FilterRule::builder().name(FilterRuleName::Prefix).value(crate::resources::UPLOADS_PREFIX).build();
    let filter = NotificationConfigurationFilter::builder()
        .key(S3KeyFilter::builder().filter_rules(uploads).build())
        .build();
    let queue = QueueConfiguration::builder()
        .id("jobq-ingest")
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(filter)
        .build()
        .map_err(|e| failed(bucket, e))?;
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(queue).build())
        .send()
        .await
        .map_err(|e| failed(bucket, e))?;
    Ok(())
}

/// The store's objects expire once no job can name them, as the template's lifecycle rule says.
async fn expire_store_objects(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), ProvisionError> {
    use crate::store::{BLOB_PREFIX, SPILL_EXPIRATION_DAYS};
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
        LifecycleRuleFilter,
    };
    let days = i32::try_from(SPILL_EXPIRATION_DAYS).unwrap_or(i32::MAX);
    let rule = LifecycleRule::builder()
        .id("jobq-data-expires")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(BLOB_PREFIX).build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .build()
        .map_err(|e| failed(bucket, e))?;
    let rules = BucketLifecycleConfiguration::builder().rules(rule).build().map_err(|e| failed(bucket, e))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(rules)
        .send()
        .await
        .map_err(|e| failed(bucket, e))?;
    Ok(())
}

async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), ProvisionError> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()) =>
        {
            Ok(())
        }
        Err(e) => Err(failed(bucket, e)),
    }
}
