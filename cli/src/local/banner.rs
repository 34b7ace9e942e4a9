//! What `make run` prints once the local stack is up.

use jobq::config::Config;

use super::LocalSettings;

pub(super) fn print(settings: &LocalSettings, config: &Config, open: bool) {
    let api = format!("http://127.0.0.1:{}", settings.port);
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "(AWS, default credentials)".to_owned());
    let c = &settings.concurrency;
    let auth =
        if open { "open: JOBQ_API_TOKEN is not set" } else { "needs Authorization: Bearer $JOBQ_API_TOKEN" };
    println!(
        "\njobq local stack\n  API       {api}  ({auth})\n  endpoint  {endpoint}\n  table     {}\n  bucket    {}\n  workers   high x{}, normal x{}, low x{} (batches of {}); scheduler every {} s; uploads under uploads/ become jobs\n\nEnqueue a job:\n  curl -s -X POST {api}/jobs -H 'content-type: application/json' -d '{{\"type\":\"sleep\",\"payload\":{{\"seconds\":5,\"steps\":5}}}}'\n  jobq enqueue sleep --payload '{{\"seconds\":5,\"steps\":5}}' --wait\n\nCtrl-C stops; running jobs get {} s to finish, the rest are delivered again on the next start.\n",
        config.table,
        config.bucket.as_deref().unwrap_or("-"),
        c.high,
        c.normal,
        c.low,
        settings.batch_size,
        settings.schedule_every.as_secs(),
        settings.shutdown_grace.as_secs(),
    );
}
