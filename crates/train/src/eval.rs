//! Held-out evaluation: greedy pass@1, and pass@k from `n = max(k)` sampled completions per
//! problem with the unbiased estimator of Chen et al. 2021: `1 - C(n-c, k) / C(n, k)`.
use std::collections::BTreeMap;

use polopt_envs::text::{Problem, Task, Verdict};
use polopt_models::SamplingConfig;

use crate::agent_rollout::AgentStats;
use crate::codec::Codec;
use crate::error::TrainError;
use crate::policy::Policy;
use crate::reward::{Completion, RewardFn};
use crate::seeds::with_torch_seed;
use crate::tool_rollout::{sample_responses, Sampled, ToolStats};

pub struct EvalSpec<'a> {
    pub problems: &'a [Problem],
    pub ks: &'a [usize],
    pub temperature: f64,
    pub max_new_tokens: i64,
    /// `rl.max_turn_tokens`: an agent turn's length limit (0 = none).
    pub max_turn_tokens: usize,
    pub seed: u64,
    /// Distinguishes evaluations of one run so each draws its own samples.
    pub index: u64,
    /// The task whose tool answers calls (no effect for tasks without one).
    pub task: &'a dyn Task,
}

/// Rows per generation call: bounds memory on long evaluations.
const CHUNK: usize = 256;

/// One evaluated completion, for `polopt eval --samples` (JSON lines).
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalSample {
    pub key: String,
    pub prompt: String,
    pub completion: String,
    pub reward: f64,
    pub correct: bool,
    /// The greedy completion (pass@1) rather than one of the `max(k)` samples.
    pub greedy: bool,
}

pub fn evaluate(
    policy: &Policy,
    tok: &Codec,
    reward: &dyn RewardFn,
    spec: &EvalSpec,
) -> Result<BTreeMap<String, f64>, TrainError> {
    Ok(evaluate_with_samples(policy, tok, reward, spec, false)?.0)
}

/// [`evaluate`], and every scored completion when `keep_samples`.
pub fn evaluate_with_samples(
    policy: &Policy,
    tok: &Codec,
    reward: &dyn RewardFn,
    spec: &EvalSpec,
    keep_samples: bool,
) -> Result<(BTreeMap<String, f64>, Vec<EvalSample>), TrainError> {
    let mut out = BTreeMap::new();
    let mut samples = Vec::new();
    if spec.problems.is_empty() {
        // A `[data]` run without `data.eval`: nothing held out, so no held-out metrics.
        return Ok((out, samples));
    }
    let prompts: Vec<Vec<i64>> = spec
        .problems
        .iter()
        .map(|p| tok.encode_prompt(p))
        .collect::<Result<_, _>>()?;
    let problem_refs: Vec<&Problem> = spec.problems.iter().collect();
    let greedy = completions(
        policy,
        tok,
        spec.task,
        &prompts,
        &problem_refs,
        0.0,
        (spec.max_new_tokens, spec.max_turn_tokens),
    )?;
    let greedy_verdicts = score_all(reward, tok, spec.problems, 1, &greedy)?;
    let mut correct = 0usize;
    let mut total_len = 0usize;
    let mut tools = ToolStats {
        enabled: spec.task.tool().is_some(),
        ..Default::default()
    };
    let mut agent = AgentStats::default();
    for ((problem, (text, sampled)), verdict) in
        spec.problems.iter().zip(&greedy).zip(&greedy_verdicts)
    {
        correct += verdict.correct as usize;
        total_len += content_len(tok, &sampled.response);
        tools.add(sampled);
        agent.add(sampled);
        if keep_samples {
            samples.push(sample_record(problem, text, verdict, true));
        }
    }
    // Greedy tool use on held-out problems: `eval/tool/call_frac`, `eval/tool/first_call_pos`, ...
    out.extend(
        tools
            .metrics()
            .into_iter()
            .chain(agent.metrics())
            .map(|(k, v)| (format!("eval/{k}"), v)),
    );
    let n_problems = spec.problems.len().max(1) as f64;
    out.insert("eval/pass@1".to_string(), correct as f64 / n_problems);
    out.insert(
        "eval/response_len".to_string(),
        total_len as f64 / n_problems,
    );

    let n = spec.ks.iter().copied().max().unwrap_or(1);
    let repeated: Vec<Vec<i64>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), n))
        .collect();
    let repeated_problems: Vec<&Problem> = spec
        .problems
        .iter()
        .flat_map(|p| std::iter::repeat_n(p, n))
        .collect();
    let sampled = with_torch_seed(spec.seed, "eval-sampling", spec.index, || {
        completions(
            policy,
            tok,
            spec.task,
            &repeated,
            &repeated_problems,
            spec.temperature,
            (spec.max_new_tokens, spec.max_turn_tokens),
        )
    })?;
    let verdicts = score_all(reward, tok, spec.problems, n, &sampled)?;
    let mut sums = vec![0.0; spec.ks.len()];
    for (i, problem) in spec.problems.iter().enumerate() {
        let rows = i * n..(i + 1) * n;
        let c = verdicts[rows.clone()].iter().filter(|v| v.correct).count();
        for (slot, &k) in sums.iter_mut().zip(spec.ks) {
            *slot += pass_at_k(n, c, k);
        }
        if keep_samples {
            for ((text, _), verdict) in sampled[rows.clone()].iter().zip(&verdicts[rows]) {
                samples.push(sample_record(problem, text, verdict, false));
            }
        }
    }
    for (&k, sum) in spec.ks.iter().zip(sums) {
        let key = if k == 1 {
            "eval/sampled_pass@1".to_string()
        } else {
            format!("eval/pass@{k}")
        };
        out.insert(key, sum / n_problems);
    }
    Ok((out, samples))
}

/// Response tokens that are text (not `<eos>`/padding).
fn content_len(tok: &Codec, response: &[i64]) -> usize {
    response.iter().filter(|&&t| t != tok.eos_id()).count()
}

fn sample_record(problem: &Problem, text: &str, verdict: &Verdict, greedy: bool) -> EvalSample {
    EvalSample {
        key: problem.key.clone(),
        prompt: problem.prompt.clone(),
        completion: text.to_string(),
        reward: verdict.reward,
        correct: verdict.correct,
        greedy,
    }
}

/// The reward's verdicts on `completed` (`per_problem` consecutive rows per problem), in one
/// batch so that user rewards (Python, commands) are called once per evaluation pass.
fn score_all(
    reward: &dyn RewardFn,
    tok: &Codec,
    problems: &[Problem],
    per_problem: usize,
    completed: &[(String, Sampled)],
) -> Result<Vec<Verdict>, TrainError> {
    let items: Vec<Completion> = completed
        .iter()
        .enumerate()
        .map(|(i, (text, sampled))| Completion {
            problem: &problems[i / per_problem],
            text,
            tokens: content_len(tok, &sampled.response),
        })
        .collect();
    reward.score_batch(&items)
}

/// Greedy pass@1 on `problems` alone (the warm start's stopping check; no sampling).
pub fn greedy_pass1(
    policy: &Policy,
    tok: &Codec,
    reward: &dyn RewardFn,
    task: &dyn Task,
    problems: &[Problem],
    max_new_tokens: i64,
    max_turn_tokens: usize,
) -> Result<f64, TrainError> {
    let prompts: Vec<Vec<i64>> = problems
        .iter()
        .map(|p| tok.encode_prompt(p))
        .collect::<Result<_, _>>()?;
    let problem_refs: Vec<&Problem> = problems.iter().collect();
    let greedy = completions(
        policy,
        tok,
        task,
        &prompts,
        &problem_refs,
        0.0,
        (max_new_tokens, max_turn_tokens),
    )?;
    let correct = problems
        .iter()
        .zip(&greedy)
        .filter(|(problem, (text, _))| reward.score(problem, text).correct)
        .count();
    Ok(correct as f64 / problems.len().max(1) as f64)
}

/// Decoded completions (without `<eos>`, tool replies included) and the responses.
fn completions(
    policy: &Policy,
    tok: &Codec,
    task: &dyn Task,
    prompts: &[Vec<i64>],
    problems: &[&Problem],
    temperature: f64,
    (max_new_tokens, max_turn_tokens): (i64, usize),
) -> Result<Vec<(String, Sampled)>, TrainError> {
    let sampling = SamplingConfig {
        temperature,
        top_p: 1.0,
        max_new_tokens,
        eos_token_id: tok.eos_id(),
        pad_token_id: tok.pad_id(),
        stop_at_eos: true,
    };
    let mut out = Vec::with_capacity(prompts.len());
    for (chunk, chunk_problems) in prompts.chunks(CHUNK).zip(problems.chunks(CHUNK)) {
        for sampled in sample_responses(
            policy,
            tok,
            task,
            chunk,
            chunk_problems,
            &sampling,
            max_turn_tokens,
        )? {
            out.push((tok.decode(&sampled.response), sampled));
        }
    }
    Ok(out)
}

/// Unbiased pass@k from `n` samples with `c` correct (Chen et al. 2021, HumanEval).
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if n < k {
        return if c > 0 { 1.0 } else { 0.0 };
    }
    if n - c < k {
        return 1.0;
    }
    let mut prob_all_wrong = 1.0;
    for i in (n - c + 1)..=n {
        prob_all_wrong *= 1.0 - k as f64 / i as f64;
    }
    1.0 - prob_all_wrong
}

#[cfg(test)]
mod tests {
    use super::pass_at_k;

    #[test]
    fn pass_at_k_matches_the_combinatorial_definition() {
        // 1 - C(n-c, k) / C(n, k) computed directly for small n.
        fn choose(n: u64, k: u64) -> f64 {
            (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
        }
        for n in 1..=16u64 {
            for c in 0..=n {
                for k in 1..=n {
                    let want = if n - c < k {
                        1.0
                    } else {
                        1.0 - choose(n - c, k) / choose(n, k)
                    };
                    let got = pass_at_k(n as usize, c as usize, k as usize);
                    assert!(
                        (got - want).abs() < 1e-12,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                }
            }
        }
        assert_eq!(pass_at_k(16, 4, 1), 0.25);
    }
}
