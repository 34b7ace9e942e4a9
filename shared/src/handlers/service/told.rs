//! What a caller is told of an AWS failure, and what the log is told.

use tracing::error;

use crate::store::StoreError;

/// A store error as a caller may be told it: an AWS failure by its operation only (its chain
/// names roles, accounts and resources), logged whole.
pub(crate) fn told(err: &StoreError) -> String {
    match err {
        StoreError::Aws { operation, .. } => {
            error!(error = %error_chain(err), "AWS dependency failed");
            match err.is_transient() {
                true => format!("DynamoDB {operation} failed (it may succeed if sent again)"),
                false => format!("DynamoDB {operation} was refused"),
            }
        }
        other => other.to_string(),
    }
}

/// An error and every source under it, for the log.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // thiserror's `{source}` already shows the first cause: skip repeats.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
