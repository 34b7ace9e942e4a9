//! The blob port on S3: one bucket, objects by key.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::ports::blobs::{BlobError, Blobs};

#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Blobs { client, bucket: bucket.into() }
    }
}

/// Throttling, server errors and no answer may succeed later; anything else is the request's fault.
fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            e.raw().status().is_server_error()
                || matches!(e.err().code(), Some("SlowDown" | "RequestTimeout"))
        }
        _ => false,
    };
    let source = crate::adapters::aws::with_context(Box::new(err));
    match transient {
        true => BlobError::Transient { operation, source },
        false => BlobError::Rejected { operation, source },
    }
}

#[async_trait::async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| classify("PutObject", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", e))?;
        Ok(())
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(|e| classify("HeadBucket", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        const OP: &str = "GetObject";
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => {
                return Err(BlobError::NotFound { operation: OP, key: key.to_owned() });
            }
            Err(e) => return Err(classify(OP, e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Transient { operation: OP, source: Box::new(e) })?;
        Ok(body.into_bytes().to_vec())
    }
}
