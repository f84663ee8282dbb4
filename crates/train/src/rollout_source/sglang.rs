//! SGLang's native `/generate` with token ids in and out.
//!
//! Request (SGLang `GenerateReqInput`, docs/basic_usage/sampling_params.md): `input_ids` as a
//! list of token-id lists, `sampling_params` {`n`, `max_new_tokens`, `temperature`, `top_p`}
//! and `return_logprob: true`. The answer is a JSON list, one object per completion,
//! prompt-major (`TokenizerManager._handle_batch_request` expands `for i in batch: for _ in
//! range(parallel_sample_num)`), each with `output_ids` and `meta_info` holding
//! `finish_reason` ({"type": "stop" | "length", ...}) and `output_token_logprobs` as
//! `[logprob, token_id, text_or_null]` triples, one per sampled token.
//!
//! Weights: `POST /update_weights_from_disk {"model_path"}` (docs
//! advanced_features/sglang_for_rl.md), answered `{"success", "message", ...}`.
use std::path::Path;

use serde_json::{json, Value};

use super::http::{HttpOptions, JsonClient};
use super::{
    check_batch, group_indexed, Completion, FinishReason, RolloutError, RolloutSource,
    SamplingRequest,
};

pub struct SglangSource {
    client: JsonClient,
}

impl SglangSource {
    pub fn new(base_url: &str, options: HttpOptions) -> Self {
        Self {
            client: JsonClient::new(base_url, options),
        }
    }

    /// The JSON body of one generate request.
    pub fn request_body(prompts: &[Vec<i64>], request: &SamplingRequest) -> Value {
        json!({
            "input_ids": prompts,
            "sampling_params": {
                "n": request.n,
                "max_new_tokens": request.max_new_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
            },
            "return_logprob": true,
            "stream": false,
        })
    }
}

impl RolloutSource for SglangSource {
    fn generate(
        &self,
        prompts: &[Vec<i64>],
        request: &SamplingRequest,
    ) -> Result<Vec<Vec<Completion>>, RolloutError> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        let path = "/generate";
        let url = self.client.url(path);
        let answer = self
            .client
            .post(path, &Self::request_body(prompts, request))?;
        // One prompt with n = 1 is answered with a bare object, everything else with a list.
        let outputs: Vec<&Value> = match &answer {
            Value::Array(items) => items.iter().collect(),
            Value::Object(_) => vec![&answer],
            other => {
                return Err(RolloutError::Protocol {
                    url,
                    detail: format!("expected a list of outputs, got {other}"),
                })
            }
        };
        let items = outputs
            .into_iter()
            .enumerate()
            .map(|(k, output)| Ok((k, parse_output(output, &url, k, request.n)?)))
            .collect::<Result<Vec<_>, RolloutError>>()?;
        let groups = group_indexed("sglang", items, prompts.len(), request.n)?;
        check_batch("sglang", prompts.len(), request.n, &groups)?;
        Ok(groups)
    }

    fn publish_weights(&self, model_dir: &Path) -> Result<(), RolloutError> {
        let path = "/update_weights_from_disk";
        let body = json!({"model_path": model_dir.display().to_string()});
        let answer = self.client.post(path, &body)?;
        match answer.get("success").and_then(Value::as_bool) {
            Some(true) => Ok(()),
            _ => Err(RolloutError::Protocol {
                url: self.client.url(path),
                detail: format!(
                    "weights from {} not loaded: {}",
                    model_dir.display(),
                    answer
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no `success: true` in the answer")
                ),
            }),
        }
    }

    fn name(&self) -> &'static str {
        "sglang"
    }
}

/// One output object: ids and log-probs from `meta_info.output_token_logprobs`.
fn parse_output(
    output: &Value,
    url: &str,
    index: usize,
    n: usize,
) -> Result<Completion, RolloutError> {
    let prompt = index / n.max(1);
    let bad = |detail: String| RolloutError::Protocol {
        url: url.to_string(),
        detail: format!("output {index} (prompt {prompt}): {detail}"),
    };
    let meta = output
        .get("meta_info")
        .ok_or_else(|| bad("`meta_info` missing".into()))?;
    let triples = meta
        .get("output_token_logprobs")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad("`meta_info.output_token_logprobs` missing; the request sets return_logprob".into())
        })?;
    let mut tokens = Vec::with_capacity(triples.len());
    let mut logprobs = Vec::with_capacity(triples.len());
    for (t, triple) in triples.iter().enumerate() {
        let lp = triple.get(0).and_then(Value::as_f64);
        let id = triple.get(1).and_then(Value::as_i64);
        match (lp, id) {
            (Some(lp), Some(id)) => {
                logprobs.push(lp as f32);
                tokens.push(id);
            }
            _ => {
                return Err(bad(format!(
                    "output_token_logprobs[{t}] = {triple} is not [logprob, token_id, text]"
                )))
            }
        }
    }
    if let Some(ids) = output.get("output_ids").and_then(Value::as_array) {
        let ids: Vec<i64> = ids.iter().filter_map(Value::as_i64).collect();
        if ids != tokens {
            return Err(bad(
                "`output_ids` and `meta_info.output_token_logprobs` disagree".into(),
            ));
        }
    }
    let finish = meta
        .get("finish_reason")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        .map(FinishReason::from_engine)
        .ok_or_else(|| bad("`meta_info.finish_reason.type` missing (unfinished)".into()))?;
    Ok(Completion {
        tokens,
        logprobs,
        finish,
    })
}
