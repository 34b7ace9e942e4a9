//! The CLI's side of the API: `jobq-client`'s typed client, built from the command's flags, and
//! the errors a command can end with.

pub use jobq_client::Client;
use jobq_client::{Auth, ClientError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API refused, could not be reached, or the request could not be signed.
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Usage(String),
}

/// The client of the API at `base`: SigV4 when asked (credentials resolved now, so missing ones
/// are said before any request), else the bearer token when there is one.
pub async fn connect(base: &str, token: Option<String>, sigv4: bool) -> Result<Client, CliError> {
    let auth = match (sigv4, token) {
        (true, _) => Auth::sigv4().await?,
        (false, Some(token)) => Auth::Bearer(token),
        (false, None) => Auth::None,
    };
    Ok(Client::new(base, auth))
}
