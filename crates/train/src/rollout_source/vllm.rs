//! vLLM's OpenAI-compatible `/v1/completions` in token-in / token-out mode.
//!
//! Request (vLLM `CompletionRequest`): `prompt` as a list of token-id lists (one per prompt),
//! `n`, `max_tokens`, `temperature`, `top_p`, `logprobs: 0` (the sampled token's log-prob
//! only) and `return_tokens_as_token_ids: true`, which makes every `logprobs.tokens` entry
//! the string `"token_id:<id>"` instead of decoded text (vLLM
//! `OpenAIServingCompletion._create_completion_logprobs`). The answer's `choices` are
//! prompt-major, `index = prompt * n + j` (`request_output_to_completion_response`).
//!
//! Weights: vLLM has no stable reload-from-disk route. With `VLLM_SERVER_DEV_MODE=1` it
//! serves `POST /collective_rpc {"method", "args", "kwargs"}`, which calls a method on every
//! worker; the built-in `reload_weights` re-reads the model directory the server was started
//! on, so the trainer writes its checkpoint there first (docs/scale-out.md). A worker
//! extension (`--worker-extension-cls`, as prime-rl does) can take the directory instead:
//! any other method name is called with the directory as its one argument.
use std::path::Path;

use serde_json::{json, Value};

use super::http::{array, HttpOptions, JsonClient};
use super::{
    check_batch, group_indexed, Completion, FinishReason, RolloutError, RolloutSource,
    SamplingRequest,
};

/// The prefix vLLM puts before a token id under `return_tokens_as_token_ids`.
const TOKEN_ID_PREFIX: &str = "token_id:";

pub struct VllmSource {
    client: JsonClient,
    /// The served model name (`--served-model-name`); `None` leaves `model` out of requests.
    model: Option<String>,
    /// The worker method `/collective_rpc` calls to reload weights.
    reload_method: String,
}

impl VllmSource {
    pub fn new(base_url: &str, model: Option<String>, options: HttpOptions) -> Self {
        Self {
            client: JsonClient::new(base_url, options),
            model,
            reload_method: "reload_weights".into(),
        }
    }

    /// Calls `method` (a worker extension's) instead of the built-in `reload_weights`.
    pub fn with_reload_method(mut self, method: &str) -> Self {
        self.reload_method = method.to_string();
        self
    }

    /// The JSON body of one completions request.
    pub fn request_body(&self, prompts: &[Vec<i64>], request: &SamplingRequest) -> Value {
        let mut body = json!({
            "prompt": prompts,
            "n": request.n,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "logprobs": 0,
            "return_tokens_as_token_ids": true,
            "stream": false,
        });
        if let Some(model) = &self.model {
            body["model"] = json!(model);
        }
        body
    }
}

impl RolloutSource for VllmSource {
    fn generate(
        &self,
        prompts: &[Vec<i64>],
        request: &SamplingRequest,
    ) -> Result<Vec<Vec<Completion>>, RolloutError> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let path = "/v1/completions";
        let url = self.client.url(path);
        let answer = self
            .client
            .post(path, &self.request_body(prompts, request))?;
        let choices = array(&answer, "choices", &url)?;
        let mut items = Vec::with_capacity(choices.len());
        for (k, choice) in choices.iter().enumerate() {
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .map_or(k, |i| i as usize);
            let completion = parse_choice(choice, &url, index, request.n)?;
            items.push((index, completion));
        }
        let groups = group_indexed("vllm", items, prompts.len(), request.n)?;
        check_batch("vllm", prompts.len(), request.n, &groups)?;
        Ok(groups)
    }

    fn publish_weights(&self, model_dir: &Path) -> Result<(), RolloutError> {
        let body = match self.reload_method.as_str() {
            "reload_weights" => json!({"method": "reload_weights"}),
            method => json!({"method": method, "args": [model_dir.display().to_string()]}),
        };
        self.client.post("/collective_rpc", &body)?;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "vllm"
    }
}

/// One `choices[k]`: token ids from `logprobs.tokens`, log-probs from `logprobs.token_logprobs`.
fn parse_choice(
    choice: &Value,
    url: &str,
    index: usize,
    n: usize,
) -> Result<Completion, RolloutError> {
    let prompt = index / n.max(1);
    let bad = |detail: String| RolloutError::Protocol {
        url: url.to_string(),
        detail: format!("choice {index} (prompt {prompt}): {detail}"),
    };
    let logprobs = choice
        .get("logprobs")
        .filter(|v| !v.is_null())
        .ok_or_else(|| bad("no `logprobs`; the request asks for logprobs: 0".into()))?;
    let tokens = logprobs
        .get("tokens")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`logprobs.tokens` missing".into()))?;
    let values = logprobs
        .get("token_logprobs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`logprobs.token_logprobs` missing".into()))?;
    let ids = tokens
        .iter()
        .enumerate()
        .map(|(t, token)| {
            token
                .as_str()
                .and_then(|s| s.strip_prefix(TOKEN_ID_PREFIX))
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "logprobs.tokens[{t}] = {token} is not \"token_id:<id>\" (is the server \
                         older than return_tokens_as_token_ids?)"
                    ))
                })
        })
        .collect::<Result<Vec<i64>, _>>()?;
    let lps = values
        .iter()
        .enumerate()
        .map(|(t, v)| {
            v.as_f64().map(|x| x as f32).ok_or_else(|| {
                bad(format!(
                    "logprobs.token_logprobs[{t}] = {v} is not a number"
                ))
            })
        })
        .collect::<Result<Vec<f32>, _>>()?;
    // vLLM >= 0.10.2 also returns `token_ids` when asked; when present they must agree.
    if let Some(direct) = choice.get("token_ids").and_then(Value::as_array) {
        let direct: Vec<i64> = direct.iter().filter_map(Value::as_i64).collect();
        if direct != ids {
            return Err(bad("`token_ids` and `logprobs.tokens` disagree".into()));
        }
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(FinishReason::from_engine)
        .ok_or_else(|| bad("`finish_reason` missing (an unfinished completion)".into()))?;
    Ok(Completion {
        tokens: ids,
        logprobs: lps,
        finish,
    })
}
