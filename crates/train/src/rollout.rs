//! One step's experience: sample prompts, G completions each, score them, and apply the
//! selection parts (overlong shaping, NaN guard, DAPO dynamic sampling).
use polopt_envs::text::{Problem, Task};
use polopt_methods::select::{BatchFill, FillReport};
use polopt_methods::SelectConfig;
use polopt_models::AdaptiveTemperature;

use crate::codec::Codec;
use crate::prompts::Prompts;

use crate::agent_rollout::AgentStats;
use crate::config::{OnNan, RlSection};
use crate::error::TrainError;
use crate::group_rl::data_parallel::GroupWorld;
use crate::packing::Sequence;
use crate::policy::Policy;
use crate::reward::RewardFn;
use crate::rollout_source::engine_step::engine_rows;
use crate::rollout_source::RolloutSource;
use crate::scoring::Scorer;
use crate::seeds::with_torch_seed;
use crate::tool_rollout::{sample_responses, samples_of, Sampled, ToolStats};
use polopt_models::SamplingConfig;

pub struct StepExperience {
    /// Kept sequences, grouped contiguously (`group` ids are 0..groups).
    pub sequences: Vec<Sequence>,
    pub fill: FillReport,
    /// Statistics over every generated response, kept or not.
    pub generated: usize,
    pub generated_tokens: usize,
    pub correct: usize,
    pub reward_sum: f64,
    pub truncated: usize,
    /// Groups dropped because a reward function returned NaN or Inf.
    pub nan_reward_groups: usize,
    /// The problem of each kept group (`problems[group]`), for per-query state (R³).
    pub problems: Vec<Problem>,
    /// Sum of per-token sampling temperatures over generated tokens, when they varied.
    pub temperature_sum: Option<f64>,
    /// Tool use over every generated response (tool tasks only).
    pub tool: ToolStats,
    /// Turns, invalid actions and endings over every generated episode (agent tasks only).
    pub agent: AgentStats,
}

impl StepExperience {
    /// No sequences yet and every counter at zero.
    pub fn empty(fill: FillReport, tool: ToolStats) -> Self {
        Self {
            sequences: Vec::new(),
            fill,
            generated: 0,
            generated_tokens: 0,
            correct: 0,
            reward_sum: 0.0,
            truncated: 0,
            nan_reward_groups: 0,
            problems: Vec::new(),
            temperature_sum: None,
            tool,
            agent: AgentStats::default(),
        }
    }
}

pub struct RolloutContext<'a> {
    pub policy: &'a Policy,
    pub tok: &'a Codec,
    pub task: &'a dyn Task,
    pub prompts: &'a Prompts,
    pub reward: &'a dyn RewardFn,
    pub rl: &'a RlSection,
    pub select: &'a SelectConfig,
    pub seed: u64,
    pub on_nan: OnNan,
    /// Per-token sampling temperature (HAPO), from the previous step's entropy statistics.
    pub adaptive: Option<AdaptiveTemperature>,
    /// Probe the policy's belief in the gold answer before every turn (IGPO's estimator).
    pub gold_probe: bool,
    /// Sample single-turn rows from this engine instead of the policy (`[rollout]`); its
    /// log-probs become the behaviour policy of the update.
    pub engine: Option<&'a dyn RolloutSource>,
    /// Data-parallel ranks sample shares of the groups (`run.distributed = "auto"`).
    pub world: Option<&'a GroupWorld>,
}

pub fn collect(ctx: &RolloutContext, step: usize) -> Result<StepExperience, TrainError> {
    let rl = ctx.rl;
    let rounds = if ctx.select.dynamic_sampling {
        ctx.select.max_gen_batches
    } else {
        1
    };
    let mut fill = BatchFill::new(rl.prompts_per_step, rounds);
    let scorer = Scorer::for_rollout(ctx);
    let sampling = rl.sampling(ctx.tok, rl.max_new_tokens);
    let mut exp = StepExperience::empty(
        fill.report(),
        ToolStats {
            enabled: ctx.task.tool().is_some(),
            ..Default::default()
        },
    );
    let mut round = 0u64;
    loop {
        // Each (step, round) has its own streams: the data position is the step counter.
        let index = (step as u64) << 8 | round;
        let problems =
            ctx.prompts
                .draw(ctx.task, ctx.seed, "rl-prompts", index, rl.prompts_per_step);
        let prompts: Vec<Vec<i64>> = problems
            .iter()
            .map(|p| ctx.tok.encode_prompt(p))
            .collect::<Result<_, _>>()?;
        // The engine's behaviour log-probs of each row, when an engine sampled them.
        let mut behaviour: Vec<Vec<f32>> = Vec::new();
        let sampled = match ctx.world {
            None => with_torch_seed(ctx.seed, "rl-sampling", index, || {
                sample_rows(
                    ctx,
                    &problems,
                    &prompts,
                    &sampling,
                    &mut behaviour,
                    &mut exp,
                )
            })?,
            Some(world) => {
                if ctx.engine.is_some() || ctx.adaptive.is_some() {
                    return Err(TrainError::Config(
                        "config key `run.distributed` = \"auto\": the groups are sampled on \
                         several ranks, which an engine or a per-token temperature (HAPO) \
                         cannot; set run.distributed = \"off\""
                            .into(),
                    ));
                }
                // One stream per group, whichever rank samples it: any world size draws the
                // same rows (group_rl/data_parallel.rs).
                world.sample_groups(problems.len(), |g| {
                    let group = index << 16 | g as u64;
                    with_torch_seed(ctx.seed, "rl-sampling-group", group, || {
                        let (problem, prompt) = (&problems[g..=g], &prompts[g..=g]);
                        let mut unused = Vec::new();
                        sample_rows(ctx, problem, prompt, &sampling, &mut unused, &mut exp)
                    })
                })?
            }
        };
        let to_score: Vec<(&Problem, &[i64])> = sampled
            .iter()
            .enumerate()
            .map(|(row, sample)| (&problems[row / rl.group_size], sample.response.as_slice()))
            .collect();
        let scores = scorer.score_batch(&to_score, step)?;
        let mut groups: Vec<Vec<Sequence>> = Vec::with_capacity(problems.len());
        let mut group_rewards: Vec<Vec<f64>> = Vec::with_capacity(problems.len());
        for (g, prompt) in prompts.iter().enumerate() {
            let mut members = Vec::with_capacity(rl.group_size);
            let mut has_nan = false;
            for j in 0..rl.group_size {
                let row = g * rl.group_size + j;
                let sample = &sampled[row];
                let response = sample.response.clone();
                let score = scores[row];
                let truncated = sample.truncated;
                let reward = score.reward;
                if reward.is_finite() {
                    exp.reward_sum += reward;
                } else {
                    has_nan = true;
                }
                exp.generated += 1;
                exp.generated_tokens += response.len();
                exp.correct += score.correct as usize;
                exp.truncated += truncated as usize;
                exp.tool.add(sample);
                exp.agent.add(sample);
                members.push(Sequence {
                    group: 0,
                    prompt: prompt.clone(),
                    response,
                    reward,
                    correct: score.correct,
                    truncated,
                    replayed: false,
                    env: sample.env.clone(),
                    first_tool_call: sample.first_call,
                    episode: sample.episode.clone(),
                    behaviour_logp: behaviour.get(row).cloned(),
                    round_prompts: sample.round_prompts.clone(),
                });
            }
            if has_nan {
                // A group with a non-finite reward has no trustworthy baseline: drop it whole.
                exp.nan_reward_groups += 1;
                group_rewards.push(vec![0.0; rl.group_size]);
                groups.push(Vec::new());
            } else {
                group_rewards.push(members.iter().map(|s| s.reward).collect());
                groups.push(members);
            }
        }
        let keep: Vec<bool> = if ctx.select.dynamic_sampling {
            fill.offer(&group_rewards)
        } else {
            fill.accept_all(groups.len());
            groups.iter().map(|g| !g.is_empty()).collect()
        };
        for ((members, keep), problem) in groups.into_iter().zip(keep).zip(&problems) {
            if keep && !members.is_empty() {
                exp.problems.push(problem.clone());
                let id = exp.sequences.last().map_or(0, |s| s.group + 1);
                exp.sequences.extend(members.into_iter().map(|mut s| {
                    s.group = id;
                    s
                }));
            }
        }
        round += 1;
        if !ctx.select.dynamic_sampling || !fill.wants_more() {
            break;
        }
    }
    exp.fill = fill.report();
    Ok(exp)
}

/// G samples for each of `problems` (prompts encoded as `prompts`): multi-turn or tool rows,
/// an engine's rows (their behaviour log-probs into `behaviour`), or the policy's.
fn sample_rows(
    ctx: &RolloutContext,
    problems: &[Problem],
    prompts: &[Vec<i64>],
    sampling: &SamplingConfig,
    behaviour: &mut Vec<Vec<f32>>,
    exp: &mut StepExperience,
) -> Result<Vec<Sampled>, TrainError> {
    let rl = ctx.rl;
    let repeated: Vec<Vec<i64>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), rl.group_size))
        .collect();
    let interactive = ctx.task.tool().is_some() || ctx.task.agent_env().is_some();
    match (interactive, ctx.engine) {
        // Tool rounds and agent turns resample from spliced prefixes; HAPO's per-token
        // temperature applies to plain single-turn sampling only.
        (true, _) => {
            let instances: Vec<&Problem> = problems
                .iter()
                .flat_map(|p| std::iter::repeat_n(p, rl.group_size))
                .collect();
            let mut rows = sample_responses(
                ctx.policy,
                ctx.tok,
                ctx.task,
                &repeated,
                &instances,
                sampling,
                rl.max_turn_tokens,
            )?;
            if ctx.gold_probe {
                crate::agent_rollout::probe_gold_answers(
                    ctx.policy, ctx.tok, ctx.task, &repeated, &instances, &mut rows,
                )?;
            }
            Ok(rows)
        }
        (false, Some(engine)) => {
            let (rows, logp) = engine_rows(engine, prompts, rl.group_size, sampling)?;
            *behaviour = logp;
            Ok(rows)
        }
        (false, None) => {
            let chunk = match rl.generation_batch_size {
                0 => repeated.len().max(1),
                n => n,
            };
            let mut samples = Vec::with_capacity(repeated.len());
            for rows in repeated.chunks(chunk) {
                let rollout = ctx
                    .policy
                    .sample_adaptive(rows, sampling, ctx.adaptive.as_ref())?;
                if let Some(t) = &rollout.temperatures {
                    *exp.temperature_sum.get_or_insert(0.0) +=
                        t.sum(tch::Kind::Double).double_value(&[]);
                }
                samples.extend(samples_of(&rollout));
            }
            Ok(samples)
        }
    }
}
