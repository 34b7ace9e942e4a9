//! The bucket-notification conformance suite (`jobq_integration_tests::conformance::bucket`),
//! every case once against the in-memory bucket and once against S3 on the emulator.

use jobq_integration_tests::conformance::bucket::{self, BucketFixture};

#[tokio::test]
async fn memory_uploads_are_announced_with_key_size_and_etag() {
    bucket::uploads_are_announced_with_key_size_and_etag(BucketFixture::memory()).await;
}

#[tokio::test]
async fn emulator_uploads_are_announced_with_key_size_and_etag() {
    bucket::uploads_are_announced_with_key_size_and_etag(BucketFixture::emulator().await).await;
}
