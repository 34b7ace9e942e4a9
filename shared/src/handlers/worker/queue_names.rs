//! A queue's name from its URL: how the worker names its tiers' queues, to tell which tier an
//! event source ARN (which ends in the name) is, and the name logs and metrics carry.

/// The queue name at the end of a queue URL.
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_come_from_urls_and_arns() {
        assert_eq!(queue_name("http://127.0.0.1:4566/123456789012/jobq-high"), "jobq-high");
        assert_eq!(queue_name("https://sqs.eu-west-1.amazonaws.com/1/jobq-low/"), "jobq-low");
    }
}
