//! The blob port: objects too large for a job item (payloads, results), kept in S3 under a prefix
//! and named from the item by their key.

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object under this key.
    #[error("{operation}: no object {key}")]
    NotFound { operation: &'static str, key: String },
    /// Throttled, a server error, or no answer: the same request may succeed later.
    #[error("{operation} failed and may succeed later: {source}")]
    Transient {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// Refused as such (access denied, no such bucket): sending it again fails again.
    #[error("{operation} was refused: {source}")]
    Rejected {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl BlobError {
    pub fn is_transient(&self) -> bool {
        matches!(self, BlobError::Transient { .. })
    }
}

/// Objects by key, in one bucket.
#[async_trait::async_trait]
pub trait Blobs: Send + Sync + std::fmt::Debug {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError>;
    /// Gone afterwards, whether it was there or not (S3 answers both alike).
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// The bucket is there and answers (S3's HeadBucket): the service's health check.
    async fn check(&self) -> Result<(), BlobError>;
}
