//! SPO-tree rollout (spo-segment.md, "SPO-tree"): per prompt a tree of depth
//! `tree_branching.len()`; a node at depth d has `tree_branching[d]` children, each a segment of
//! `tree_segment_len` tokens (the last depth runs to the budget). A response that ends early is a
//! leaf. Leaves are graded, node values are the mean of their children's, and every edge with a
//! non-zero advantage is a training sample: prefix = the parent's text, response = the segment.
//!
//! Each depth is one batched sampler call over all prompts' frontier nodes.
use std::collections::BTreeMap;

use polopt_methods::credit::{edge_advantages, probability_keep, SpoConfig};

use super::{continue_all, experience, prompts_per_step, scorer, segment_plan};
use super::{CollectedStep, Request};
use crate::error::TrainError;
use crate::packing::Sequence;
use crate::rollout::RolloutContext;

struct Node {
    parent: Option<usize>,
    problem: usize,
    /// Response tokens from the prompt to the end of this node's segment.
    response: Vec<i64>,
    /// The edge from the parent: its tokens' behaviour log-probs (`segment` = the response's
    /// last `segment_logp.len()` tokens).
    segment_logp: Vec<f64>,
    children: Vec<usize>,
    /// Reward, correctness and truncation of a leaf.
    leaf: Option<(f64, bool, bool)>,
    value: f64,
}

impl Node {
    fn segment(&self) -> &[i64] {
        &self.response[self.response.len() - self.segment_logp.len()..]
    }
}

pub(super) fn collect(
    ctx: &RolloutContext,
    spo: &SpoConfig,
    step: usize,
) -> Result<CollectedStep, TrainError> {
    let n_prompts = prompts_per_step(ctx, spo);
    let max_new = ctx.rl.max_new_tokens as usize;
    let scorer = scorer(ctx);
    let problems = ctx.prompts.draw(
        ctx.task,
        ctx.seed,
        "rl-prompts",
        (step as u64) << 8,
        n_prompts,
    );
    let prompts: Vec<Vec<i64>> = problems
        .iter()
        .map(|p| ctx.tok.encode_prompt(p))
        .collect::<Result<_, _>>()?;
    let mut nodes: Vec<Node> = (0..n_prompts)
        .map(|problem| Node {
            parent: None,
            problem,
            response: Vec::new(),
            segment_logp: Vec::new(),
            children: Vec::new(),
            leaf: None,
            value: 0.0,
        })
        .collect();
    let mut tree_nan = vec![false; n_prompts];
    let mut frontier: Vec<usize> = (0..n_prompts).collect();
    let depth = spo.tree_branching.len();
    for (d, &branches) in spo.tree_branching.iter().enumerate() {
        let last = d + 1 == depth;
        let mut requests = Vec::new();
        let mut parents = Vec::new();
        for &id in &frontier {
            let node = &nodes[id];
            let left = max_new - node.response.len();
            let budget = if last {
                left
            } else {
                spo.tree_segment_len.min(left)
            };
            for _ in 0..branches {
                requests.push(Request {
                    prefix: [prompts[node.problem].as_slice(), &node.response].concat(),
                    budget,
                });
                parents.push(id);
            }
        }
        if requests.is_empty() {
            break;
        }
        let completions = continue_all(ctx, &requests, &format!("spo-tree-{d}"), step)?;
        frontier.clear();
        for (parent, completion) in parents.into_iter().zip(completions) {
            let response = [nodes[parent].response.as_slice(), &completion.ids].concat();
            let ends = last || completion.finished || response.len() >= max_new;
            let problem = nodes[parent].problem;
            let leaf = if ends {
                match scorer.score(&problems[problem], &response, step)?.finite() {
                    Some(score) => Some((score.reward, score.correct, !completion.finished)),
                    None => {
                        tree_nan[problem] = true;
                        Some((0.0, false, !completion.finished))
                    }
                }
            } else {
                None
            };
            let id = nodes.len();
            nodes[parent].children.push(id);
            nodes.push(Node {
                parent: Some(parent),
                problem,
                response,
                segment_logp: completion.logp,
                children: Vec::new(),
                leaf,
                value: 0.0,
            });
            if !ends {
                frontier.push(id);
            }
        }
    }
    // Children are created after their parents: one backward pass sees every child first.
    for id in (0..nodes.len()).rev() {
        nodes[id].value = match (nodes[id].leaf, nodes[id].children.is_empty()) {
            (Some((reward, _, _)), _) => reward,
            (None, true) => 0.0,
            (None, false) => {
                let kids = &nodes[id].children;
                kids.iter().map(|&c| nodes[c].value).sum::<f64>() / kids.len() as f64
            }
        };
    }

    let mut exp = experience(n_prompts);
    let mut group_of_tree = vec![None; n_prompts];
    for (p, nan) in tree_nan.iter().enumerate() {
        if *nan {
            exp.nan_reward_groups += 1;
        } else {
            group_of_tree[p] = Some(exp.fill.kept_groups);
            exp.fill.kept_groups += 1;
        }
    }
    exp.fill.dropped_groups = exp.nan_reward_groups;
    let rho = spo.prob_threshold;
    let (mut advantages, mut keep) = (Vec::new(), Vec::new());
    let (mut dropped_edges, mut leaves, mut sampled_tokens) = (0usize, 0usize, 0usize);
    for parent in &nodes {
        let Some(group) = group_of_tree[parent.problem] else {
            continue;
        };
        if let Some((reward, correct, truncated)) = parent.leaf {
            leaves += 1;
            exp.generated += 1;
            exp.generated_tokens += parent.response.len();
            exp.reward_sum += reward;
            exp.correct += correct as usize;
            exp.truncated += truncated as usize;
        }
        let values: Vec<f64> = parent.children.iter().map(|&c| nodes[c].value).collect();
        let edges = edge_advantages(parent.value, &values, spo.tree_advantage);
        for (&child, advantage) in parent.children.iter().zip(edges) {
            let child = &nodes[child];
            sampled_tokens += child.segment_logp.len();
            let Some(advantage) = advantage else {
                dropped_edges += 1;
                continue;
            };
            let probs: Vec<f64> = child.segment_logp.iter().map(|l| l.exp()).collect();
            advantages.push(vec![advantage; probs.len()]);
            keep.push(probability_keep(&probs, rho));
            let prefix = [prompts[parent.problem].as_slice(), &parent.response].concat();
            let (correct, truncated) = child.leaf.map_or((false, false), |(_, c, t)| (c, t));
            exp.sequences.push(Sequence {
                group,
                prompt: prefix,
                response: child.segment().to_vec(),
                reward: child.value,
                correct,
                truncated,
                replayed: false,
                env: Vec::new(),
                first_tool_call: None,
                episode: None,
                round_prompts: Vec::new(),
                behaviour_logp: None,
            });
        }
    }

    let mut metrics = BTreeMap::new();
    metrics.insert("spo/tree_nodes".into(), (nodes.len() - n_prompts) as f64);
    metrics.insert("spo/leaves".into(), leaves as f64);
    metrics.insert("spo/edges".into(), exp.sequences.len() as f64);
    metrics.insert("spo/dropped_edges".into(), dropped_edges as f64);
    metrics.insert("spo/sampled_tokens".into(), sampled_tokens as f64);
    let plan = (!exp.sequences.is_empty()).then(|| {
        let (plan, keep_frac) = segment_plan(advantages, keep, spo);
        metrics.insert("spo/token_keep_frac".into(), keep_frac);
        plan
    });
    debug_assert!(nodes.iter().all(|n| n.parent.is_some() || n.leaf.is_none()));
    Ok(CollectedStep {
        experience: exp,
        plan,
        metrics,
    })
}
