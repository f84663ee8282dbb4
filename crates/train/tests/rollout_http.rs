//! The HTTP rollout clients against a replay server: recorded vLLM and SGLang responses
//! (tests/fixtures/rollout_http/, README.md there says where each body's shape was copied
//! from), and scripted failures: a 500 then success, a 4xx, a hang past the timeout, a body
//! cut off mid-way, fewer than n completions, an aborted completion, a closed port.
//!
//! No real engine runs here: vLLM and SGLang need CUDA and gigabytes of wheels, which this
//! CPU machine cannot install (docs/scale-out.md).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use polopt_train::rollout_source::{
    FinishReason, HttpOptions, RolloutError, RolloutSource, SamplingRequest, SglangSource,
    VllmSource,
};
use serde_json::Value;

/// What the replay server does with one incoming request.
enum Reply {
    /// Answer with this status and body.
    Json(u16, String),
    /// Read the request, then say nothing for this long (past the client's timeout).
    Hang(Duration),
    /// Announce a long body, send a little of it, and close the connection.
    CloseMidBody,
}

/// A one-thread HTTP/1.1 server on 127.0.0.1:0 that answers each request with the next reply
/// of its script and records what it was sent (path, JSON body).
struct Replay {
    url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    handle: Option<JoinHandle<()>>,
}

impl Replay {
    fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let handle = std::thread::spawn(move || {
            for reply in script {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                serve_one(stream, reply, &log);
            }
        });
        Self {
            url,
            seen,
            handle: Some(handle),
        }
    }

    fn requests(&mut self) -> Vec<(String, Value)> {
        if let Some(h) = self.handle.take() {
            h.join().expect("replay thread");
        }
        self.seen.lock().expect("lock").clone()
    }
}

fn serve_one(stream: TcpStream, reply: Reply, log: &Mutex<Vec<(String, Value)>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("request line");
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("content-length");
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("request body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log.lock().expect("lock").push((path, json));
    let mut stream = stream;
    match reply {
        Reply::Json(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Reply::Hang(pause) => std::thread::sleep(pause),
        Reply::CloseMidBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{\"choices\": [";
            let _ = stream.write_all(head.as_bytes());
        }
    }
    let _ = stream.flush();
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rollout_http")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ok(name: &str) -> Reply {
    Reply::Json(200, fixture(name))
}

fn fast(retries: usize) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(2),
        retries,
        backoff: Duration::from_millis(10),
    }
}

/// The batch both fixtures answer: 2 prompts, n = 2, at most 3 new tokens.
fn prompts() -> Vec<Vec<i64>> {
    vec![vec![1, 9, 11, 12, 13, 5], vec![1, 10, 11, 12, 13, 5]]
}

fn request() -> SamplingRequest {
    SamplingRequest {
        n: 2,
        max_new_tokens: 3,
        temperature: 1.0,
        top_p: 1.0,
    }
}

/// What both fixtures hold, grouped by prompt.
fn expect_fixture_batch(batch: &[Vec<polopt_train::rollout_source::Completion>]) {
    assert_eq!(batch.len(), 2);
    assert!(batch.iter().all(|g| g.len() == 2));
    assert_eq!(batch[0][0].tokens, vec![17, 15, 2]);
    assert_eq!(batch[0][0].logprobs, vec![-0.25, -0.5, -0.125]);
    assert_eq!(batch[0][1].tokens, vec![17, 14, 2]);
    assert_eq!(batch[1][0].tokens, vec![20, 2]);
    assert_eq!(batch[1][0].finish, FinishReason::Stop);
    assert_eq!(batch[1][1].tokens, vec![20, 20, 20]);
    assert_eq!(batch[1][1].logprobs, vec![-0.375, -2.0, -3.0]);
    assert_eq!(batch[1][1].finish, FinishReason::Length);
}

#[test]
fn vllm_sends_token_ids_and_groups_completions_by_prompt() {
    let mut server = Replay::start(vec![ok("vllm_completions.json")]);
    let source = VllmSource::new(&server.url, Some("polopt".into()), fast(0));
    let batch = source.generate(&prompts(), &request()).expect("generate");
    expect_fixture_batch(&batch);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let (path, body) = &seen[0];
    assert_eq!(path, "/v1/completions");
    assert_eq!(body["prompt"], serde_json::json!(prompts()));
    assert_eq!(body["n"], 2);
    assert_eq!(body["max_tokens"], 3);
    assert_eq!(body["logprobs"], 0);
    assert_eq!(body["return_tokens_as_token_ids"], true);
    assert_eq!(body["model"], "polopt");
}

#[test]
fn sglang_sends_input_ids_and_groups_completions_by_prompt() {
    let mut server = Replay::start(vec![ok("sglang_generate.json")]);
    let source = SglangSource::new(&server.url, fast(0));
    let batch = source.generate(&prompts(), &request()).expect("generate");
    expect_fixture_batch(&batch);
    let seen = server.requests();
    let (path, body) = &seen[0];
    assert_eq!(path, "/generate");
    assert_eq!(body["input_ids"], serde_json::json!(prompts()));
    assert_eq!(body["sampling_params"]["n"], 2);
    assert_eq!(body["sampling_params"]["max_new_tokens"], 3);
    assert_eq!(body["return_logprob"], true);
}

#[test]
fn a_500_is_retried_and_the_retry_is_used() {
    let mut server = Replay::start(vec![
        Reply::Json(500, r#"{"object":"error","message":"engine busy"}"#.into()),
        ok("vllm_completions.json"),
    ]);
    let source = VllmSource::new(&server.url, None, fast(2));
    let batch = source.generate(&prompts(), &request()).expect("retried");
    expect_fixture_batch(&batch);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_4xx_is_not_retried_and_names_the_url() {
    let mut server = Replay::start(vec![Reply::Json(
        400,
        r#"{"object":"error","message":"n must be at least 1"}"#.into(),
    )]);
    let source = VllmSource::new(&server.url, None, fast(3));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, RolloutError::Status { status: 400, .. }),
        "{text}"
    );
    assert!(
        text.contains("/v1/completions") && text.contains("n must be at least 1"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_server_that_hangs_is_an_error_after_the_timeout() {
    let mut server = Replay::start(vec![Reply::Hang(Duration::from_secs(4))]);
    let options = HttpOptions {
        timeout: Duration::from_millis(500),
        retries: 0,
        backoff: Duration::from_millis(10),
    };
    let source = SglangSource::new(&server.url, options);
    let started = std::time::Instant::now();
    let err = source.generate(&prompts(), &request()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(matches!(err, RolloutError::Unreachable { .. }), "{text}");
    assert!(text.contains(&format!("{}/generate", server.url)), "{text}");
    drop(server.requests());
}

#[test]
fn a_body_cut_off_mid_way_is_retried() {
    let mut server = Replay::start(vec![Reply::CloseMidBody, ok("vllm_completions.json")]);
    let source = VllmSource::new(&server.url, None, fast(1));
    let batch = source.generate(&prompts(), &request()).expect("retried");
    expect_fixture_batch(&batch);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_body_cut_off_with_no_retries_left_is_an_error() {
    let mut server = Replay::start(vec![Reply::CloseMidBody]);
    let source = VllmSource::new(&server.url, None, fast(0));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    assert!(matches!(err, RolloutError::Unreachable { .. }), "{err}");
    drop(server.requests());
}

#[test]
fn a_closed_port_is_an_error_after_every_retry() {
    // Bind, then drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let source = SglangSource::new(&format!("http://127.0.0.1:{port}"), fast(2));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, RolloutError::Unreachable { attempts: 3, .. }),
        "{text}"
    );
    assert!(text.contains(&port.to_string()), "{text}");
}

#[test]
fn vllm_with_fewer_than_n_choices_names_the_prompt() {
    let mut answer: Value = serde_json::from_str(&fixture("vllm_completions.json")).expect("json");
    // The server lost prompt 1's second completion (choice index 3).
    answer["choices"].as_array_mut().expect("choices").pop();
    let mut server = Replay::start(vec![Reply::Json(200, answer.to_string())]);
    let source = VllmSource::new(&server.url, None, fast(0));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("prompt 1") && text.contains("expected n = 2"),
        "{text}"
    );
    drop(server.requests());
}

#[test]
fn sglang_with_fewer_than_n_outputs_names_the_prompt() {
    let mut answer: Value = serde_json::from_str(&fixture("sglang_generate.json")).expect("json");
    answer.as_array_mut().expect("list").truncate(3);
    let mut server = Replay::start(vec![Reply::Json(200, answer.to_string())]);
    let source = SglangSource::new(&server.url, fast(0));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("prompt 1") && text.contains("got 1"),
        "{text}"
    );
    drop(server.requests());
}

#[test]
fn an_aborted_completion_is_an_error_not_a_sample() {
    let mut answer: Value = serde_json::from_str(&fixture("sglang_generate.json")).expect("json");
    answer[2]["meta_info"]["finish_reason"] =
        serde_json::json!({"type": "abort", "message": "Abort before prefill"});
    let mut server = Replay::start(vec![Reply::Json(200, answer.to_string())]);
    let source = SglangSource::new(&server.url, fast(0));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("prompt 1") && text.contains("abort"),
        "{text}"
    );
    drop(server.requests());
}

#[test]
fn vllm_tokens_that_are_not_token_ids_are_an_error_naming_the_choice() {
    let mut answer: Value = serde_json::from_str(&fixture("vllm_completions.json")).expect("json");
    // A server started without return_tokens_as_token_ids support answers decoded text.
    answer["choices"][2]["logprobs"]["tokens"][0] = serde_json::json!("7");
    let mut server = Replay::start(vec![Reply::Json(200, answer.to_string())]);
    let source = VllmSource::new(&server.url, None, fast(0));
    let err = source.generate(&prompts(), &request()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("choice 2 (prompt 1)") && text.contains("token_id"),
        "{text}"
    );
    drop(server.requests());
}

#[test]
fn sglang_publishes_weights_with_update_weights_from_disk() {
    let mut server = Replay::start(vec![ok("sglang_update_weights_from_disk.json")]);
    let source = SglangSource::new(&server.url, fast(0));
    source
        .publish_weights(Path::new("/shared/run/publish"))
        .expect("publish");
    let seen = server.requests();
    assert_eq!(seen[0].0, "/update_weights_from_disk");
    assert_eq!(seen[0].1["model_path"], "/shared/run/publish");
}

#[test]
fn sglang_refusing_the_weights_is_an_error_with_its_message() {
    let mut server = Replay::start(vec![Reply::Json(
        200,
        r#"{"success": false, "message": "Failed to get weights iterator: no safetensors", "num_paused_requests": 0}"#.into(),
    )]);
    let source = SglangSource::new(&server.url, fast(0));
    let err = source
        .publish_weights(Path::new("/shared/run/publish"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no safetensors") && text.contains("/shared/run/publish"),
        "{text}"
    );
    drop(server.requests());
}

#[test]
fn vllm_publishes_weights_through_collective_rpc() {
    let mut server = Replay::start(vec![
        ok("vllm_collective_rpc.json"),
        // A bare 200 (no worker returned anything) is success too.
        Reply::Json(200, String::new()),
    ]);
    let source = VllmSource::new(&server.url, None, fast(0));
    source
        .publish_weights(Path::new("/shared/run/publish"))
        .expect("reload_weights");
    let extension =
        VllmSource::new(&server.url, None, fast(0)).with_reload_method("update_weights");
    extension
        .publish_weights(Path::new("/shared/run/publish"))
        .expect("worker extension");
    let seen = server.requests();
    assert_eq!(seen[0].0, "/collective_rpc");
    assert_eq!(seen[0].1["method"], "reload_weights");
    assert_eq!(seen[1].1["method"], "update_weights");
    assert_eq!(seen[1].1["args"][0], "/shared/run/publish");
}
