//! The HTTP transport shared by the engine clients: one JSON POST with a whole-request timeout,
//! retried with exponential backoff on connection errors, timeouts and 5xx answers. A 4xx is
//! the caller's mistake and is not retried. Every error names the URL.
use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

/// Errors of a rollout source; each names the URL or the prompt concerned.
#[derive(Debug, Error)]
pub enum RolloutError {
    /// The server could not be reached, timed out or kept failing, after every retry.
    #[error("{url}: {detail} (after {attempts} attempt(s); check that the engine is up and rollout.url is right)")]
    Unreachable {
        url: String,
        attempts: usize,
        detail: String,
    },
    /// The server answered with an error status that retrying does not fix.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The answer is not the JSON the engine documents.
    #[error("{url}: unexpected response: {detail}")]
    Protocol { url: String, detail: String },
    /// The answer parsed but has the wrong shape (a prompt with too few completions, ...).
    #[error("{0}")]
    Shape(String),
    /// The in-process sampler failed.
    #[error("local sampler: {0}")]
    Local(String),
}

/// Timeouts and retries of one engine client (`rollout.timeout_s`, `rollout.retries`).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole request, connect to last byte: a server that hangs mid-batch ends here.
    pub timeout: Duration,
    /// Extra attempts after the first, on connection errors, timeouts and 5xx.
    pub retries: usize,
    /// First backoff; doubled after every failed attempt.
    pub backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A blocking JSON client for one engine base URL (`http://host:port`, no trailing path).
#[derive(Debug, Clone)]
pub struct JsonClient {
    base: String,
    options: HttpOptions,
    agent: ureq::Agent,
}

impl JsonClient {
    pub fn new(base: &str, options: HttpOptions) -> Self {
        let agent = ureq::AgentBuilder::new().timeout(options.timeout).build();
        Self {
            base: base.trim_end_matches('/').to_string(),
            options,
            agent,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs `body` to `path` and parses the answer as JSON, retrying what a retry can fix.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, RolloutError> {
        let url = self.url(path);
        let attempts = self.options.retries + 1;
        let mut backoff = self.options.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.agent.post(&url).send_json(body) {
                Ok(response) => {
                    // A body cut off mid-way (the server died) fails here, and is retried:
                    // the request is idempotent from our side (a fresh sample is as good).
                    match response.into_string() {
                        // vLLM's `/collective_rpc` answers a bare 200 when no worker returns.
                        Ok(text) if text.trim().is_empty() => return Ok(Value::Null),
                        Ok(text) => {
                            return serde_json::from_str(&text).map_err(|e| {
                                RolloutError::Protocol {
                                    url: url.clone(),
                                    detail: format!("not JSON ({e}): {}", snippet(&text)),
                                }
                            });
                        }
                        Err(e) => last = format!("reading the body: {e}"),
                    }
                }
                Err(ureq::Error::Status(status, response)) => {
                    let text = response.into_string().unwrap_or_default();
                    if status < 500 {
                        return Err(RolloutError::Status {
                            url,
                            status,
                            body: snippet(&text),
                        });
                    }
                    last = format!("HTTP {status}: {}", snippet(&text));
                }
                Err(ureq::Error::Transport(t)) => last = t.to_string(),
            }
            if attempt < attempts {
                tracing::warn!(%url, attempt, error = %last, "rollout request failed; retrying");
                std::thread::sleep(backoff);
                backoff = backoff.saturating_mul(2);
            }
        }
        Err(RolloutError::Unreachable {
            url,
            attempts,
            detail: last,
        })
    }
}

/// The start of a response body, for error messages.
fn snippet(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// `value[key]` as an array, or a protocol error naming the field.
pub(crate) fn array<'a>(
    value: &'a Value,
    key: &str,
    url: &str,
) -> Result<&'a Vec<Value>, RolloutError> {
    value
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| RolloutError::Protocol {
            url: url.to_string(),
            detail: format!("field `{key}` missing or not an array"),
        })
}
