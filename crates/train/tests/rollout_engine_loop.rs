//! The group-RL loop with `[rollout] source = "sglang"` against a mock engine in the test: it
//! answers `/generate` in SGLang's JSON (n completions of every prompt, prompt-major, with
//! made-up behaviour log-probs) and `/update_weights_from_disk`. The loop must sample from it,
//! use its log-probs as the behaviour policy, log the engine/trainer mismatch, and publish the
//! weights (a full HF directory) and ask the engine to reload them after every update.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{dense, metric_rows, tiny_config};
use polopt_models::CharTokenizer;
use polopt_train::train;
use serde_json::{json, Value};

/// The engine's fixed log-prob of every token it samples (the trainer's differs).
const ENGINE_LOGP: f64 = -1.0;

/// Every request the mock engine got: (path, JSON body).
type RequestLog = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves forever on 127.0.0.1:0; returns the base URL and the request log.
fn mock_sglang() -> (String, RequestLog) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    let tok = CharTokenizer::new();
    let digits: Vec<i64> = tok.encode("0123").expect("digits encode");
    let letter = tok.encode("x").expect("letter encodes")[0];
    let eos = tok.eos_id();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                if header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().expect("length");
                    }
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("body");
            let request: Value = serde_json::from_slice(&body).expect("json body");
            let answer = match path.as_str() {
                "/generate" => generate(&request, &digits, letter, eos),
                "/update_weights_from_disk" => {
                    json!({"success": true, "message": "Succeeded to update model weights.", "num_paused_requests": 0})
                }
                _ => json!({"error": "unknown path"}),
            };
            seen.lock().expect("lock").push((path, request));
            let text = answer.to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, log)
}

/// Completion j of every prompt: j digits out of `j + 1` characters, then `<eos>`, so that a
/// group's rewards differ (the dense digit-share reward) and the update has advantages.
fn generate(request: &Value, digits: &[i64], letter: i64, eos: i64) -> Value {
    let prompts = request["input_ids"].as_array().map_or(0, Vec::len);
    let n = request["sampling_params"]["n"].as_u64().unwrap_or(1) as usize;
    let mut outputs = Vec::new();
    for _ in 0..prompts {
        for j in 0..n {
            let mut ids: Vec<i64> = digits.iter().cycle().take(j % 4).copied().collect();
            ids.push(letter);
            ids.push(eos);
            let triples: Vec<Value> = ids.iter().map(|&t| json!([ENGINE_LOGP, t, null])).collect();
            outputs.push(json!({
                "text": "",
                "output_ids": ids,
                "meta_info": {
                    "finish_reason": {"type": "stop", "matched": eos},
                    "prompt_tokens": 0,
                    "completion_tokens": ids.len(),
                    "output_token_logprobs": triples,
                }
            }));
        }
    }
    Value::Array(outputs)
}

#[test]
fn the_loop_samples_from_the_engine_and_publishes_weights_after_every_update() {
    let (url, log) = mock_sglang();
    let out = tempfile::tempdir().expect("tempdir");
    let publish = out.path().join("served-model");
    let sets = [
        "rl.steps=2".to_string(),
        "eval.every=0".to_string(),
        "rollout.source=\"sglang\"".to_string(),
        format!("rollout.url={url:?}"),
        "rollout.timeout_s=60".to_string(),
        format!("rollout.publish_dir={:?}", publish.display().to_string()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let config = tiny_config(out.path(), "engine", &sets);
    let summary = train(&config, dense()).expect("train against the mock engine");
    assert_eq!(summary.steps_done, 2);

    let seen = log.lock().expect("lock").clone();
    let generates: Vec<&Value> = seen
        .iter()
        .filter(|(p, _)| p == "/generate")
        .map(|(_, b)| b)
        .collect();
    let reloads: Vec<&Value> = seen
        .iter()
        .filter(|(p, _)| p == "/update_weights_from_disk")
        .map(|(_, b)| b)
        .collect();
    // One generate per step (no dynamic sampling); one reload at the start and one per update.
    assert_eq!(generates.len(), 2, "{seen:?}");
    assert_eq!(generates[0]["sampling_params"]["n"], 4);
    assert_eq!(generates[0]["input_ids"].as_array().map(Vec::len), Some(4));
    assert_eq!(reloads.len(), 3, "{seen:?}");
    assert!(reloads
        .iter()
        .all(|r| r["model_path"] == publish.display().to_string()));
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(
            publish.join(file).is_file(),
            "{file} missing from the published model"
        );
    }

    let rows = metric_rows(&summary.run_dir, &[]);
    let step = rows.iter().find(|r| r["step"] == 1).expect("step 1 row");
    let mean = step["rollout/logp_diff_abs_mean"]
        .as_f64()
        .expect("mismatch logged");
    let max = step["rollout/logp_diff_abs_max"]
        .as_f64()
        .expect("max logged");
    assert!(mean.is_finite() && mean > 0.0 && max >= mean, "{step}");
    assert!(step["publish_s"].as_f64().is_some(), "{step}");
}

#[test]
fn a_rollout_url_that_is_not_http_is_a_config_error_naming_the_key() {
    let sets = [
        "rollout.source=\"vllm\"".to_string(),
        "rollout.url=\"ftp://nowhere\"".to_string(),
    ];
    let err = polopt_train::config::resolve(&toml::Table::new(), &sets)
        .and_then(|c| c.validate().map(|_| c))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rollout.url"), "{err}");
}

#[test]
fn an_engine_that_is_down_stops_the_run_with_an_error_naming_its_url() {
    // Bind, then drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = tempfile::tempdir().expect("tempdir");
    let sets = [
        "rl.steps=1".to_string(),
        "rollout.source=\"sglang\"".to_string(),
        format!("rollout.url=\"http://127.0.0.1:{port}\""),
        "rollout.retries=1".to_string(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let config = tiny_config(out.path(), "engine-down", &sets);
    let err = train(&config, dense()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{port}/update_weights_from_disk"))
            && err.contains("2 attempt"),
        "{err}"
    );
}
