//! The inventory loop, top to bottom: per epoch, minibatches of training scenarios in a seeded
//! order -> the estimator's loss (pathwise or score) -> guarded Adam step; every
//! `eval.every` epochs the dev cost, its gap to the known optimum, the best parameters so far
//! and the first time the gap is within `train.tolerance_pct`; at the end the best
//! parameters on the long test horizon (spec, pseudo-code).
//!
//! Exact resume: the epoch is the data position (minibatch order and REINFORCE noise are
//! drawn from `(run.seed, tag, epoch)`), and a checkpoint holds the policy, the best policy,
//! Adam's moments and the counters. Wall time is carried across a resume but is, like any
//! clock, not reproducible; every other metric is.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::config::{Estimator, InventoryConfig, OnNan};
use super::policy::Policy;
use super::problem::{setup, Setup};
use super::rollout::{evaluate, pathwise_loss, score_loss, ScenarioTensors};
use crate::error::TrainError;
use crate::optim::{AdamW, StepOutcome};
use crate::run_dir::{
    checkpoint_name, latest_checkpoint, save_checkpoint_dir, write_atomic, MetricsSink, RunInfo,
};
use crate::seeds::{shuffle, stream, with_torch_seed};

#[derive(Default)]
pub struct InventoryOptions {
    pub resume: bool,
    /// Stop after this epoch as if killed (resume tests); the run stays `running`.
    pub stop_after: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct InventorySummary {
    pub run_dir: PathBuf,
    pub final_metrics: BTreeMap<String, f64>,
    pub epochs: usize,
}

/// Counters a checkpoint carries besides tensors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoopState {
    epoch: usize,
    optimizer_step: i64,
    nan_events: usize,
    best_dev: Option<f64>,
    best_epoch: usize,
    /// First evaluated epoch with the dev gap within tolerance, and the wall time then.
    tol_epoch: Option<usize>,
    tol_seconds: Option<f64>,
    wall_s: f64,
}

/// Checkpoint files: the policy, the best policy on dev, Adam's moments.
const FILES: [&str; 3] = [
    "model.safetensors",
    "best.safetensors",
    "optimizer.safetensors",
];

pub fn run_dir_of(cfg: &InventoryConfig) -> PathBuf {
    Path::new(&cfg.run.out_dir).join(&cfg.run.name)
}

fn gap_pct(cost: f64, reference: f64) -> f64 {
    100.0 * (cost / reference - 1.0)
}

fn snapshot(policy: &Policy) -> BTreeMap<String, Tensor> {
    policy
        .vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().copy()))
        .collect()
}

fn restore(policy: &Policy, saved: &BTreeMap<String, Tensor>) -> Result<(), String> {
    for (name, mut var) in policy.vs.variables() {
        let s = saved
            .get(&name)
            .ok_or_else(|| format!("lacks parameter `{name}`"))?;
        if s.size() != var.size() {
            return Err(format!(
                "`{name}` has shape {:?}, expected {:?}",
                s.size(),
                var.size()
            ));
        }
        tch::no_grad(|| var.copy_(s));
    }
    Ok(())
}

pub fn train_inventory(
    cfg: &InventoryConfig,
    options: InventoryOptions,
) -> Result<InventorySummary, TrainError> {
    tch::set_num_threads(cfg.run.threads as i32);
    let run_dir = run_dir_of(cfg);
    let resume_from = match options.resume {
        true => Some(latest_checkpoint(&run_dir).ok_or_else(|| {
            TrainError::Config(format!(
                "--resume: {} has no checkpoint to resume from",
                run_dir.display()
            ))
        })?),
        false => None,
    };
    if !options.resume && run_dir.join("metrics.jsonl").exists() {
        return Err(TrainError::Config(format!(
            "{} already holds a run; pass --resume to continue it, or choose another run.name \
             (nothing was overwritten)",
            run_dir.display()
        )));
    }
    std::fs::create_dir_all(&run_dir).map_err(|e| TrainError::io(&run_dir, e))?;
    write_atomic(&run_dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;

    let (t, e, seed) = (&cfg.train, &cfg.eval, cfg.run.seed);
    let Setup {
        sim,
        train,
        dev,
        test,
        optimal_cost,
        dev_reference,
        test_reference,
    } = setup(cfg);
    let stores = cfg.stores();
    let train_data = ScenarioTensors::new(&train);
    let dev_data = ScenarioTensors::new(&dev);
    let policy = with_torch_seed(seed, "inventory-init", 0, || {
        Policy::new(t.policy, &sim, &t.hidden)
    });
    let mut opt = AdamW::new(&policy.vs, t.lr, 0.0);
    let mut state = LoopState::default();
    let mut best = snapshot(&policy);
    if let Some((_, dir)) = &resume_from {
        state = load_checkpoint(dir, &policy, &mut opt, &mut best)?;
    }
    let mut info = RunInfo {
        preset: cfg.method.preset.clone(),
        task: format!("{:?}", cfg.inventory.problem).to_lowercase(),
        seed,
        status: "running".into(),
        final_metrics: BTreeMap::new(),
        warmstart_metrics: BTreeMap::new(),
    };
    info.write(&run_dir)?;
    let mut sink = MetricsSink::open(
        &run_dir.join("metrics.jsonl"),
        resume_from.as_ref().map(|(s, _)| *s),
    )?;
    let dev_ref = dev_reference.or(optimal_cost);
    let clock = Instant::now();
    let wall_before = state.wall_s;
    let batches = train.count.div_ceil(t.batch);
    let mut epoch = state.epoch;
    while epoch < t.epochs {
        epoch += 1;
        let mut order: Vec<i64> = (0..train.count as i64).collect();
        shuffle(
            &mut order,
            &mut stream(seed, "inventory-order", epoch as u64),
        );
        let (mut cost_sum, mut norm_sum, mut applied) = (0.0, 0.0, 0usize);
        for b in 0..batches {
            let idx = &order[b * t.batch..((b + 1) * t.batch).min(order.len())];
            let data = train_data.select(&Tensor::from_slice(idx));
            let (loss, cost) = match t.estimator {
                Estimator::Pathwise => pathwise_loss(&sim, &policy, &data, stores),
                Estimator::Score => {
                    let raw_len = policy.raw(&data.initial.narrow(0, 0, 1)).size()[1];
                    let noise = with_torch_seed(
                        seed,
                        "inventory-noise",
                        (epoch * batches + b) as u64,
                        || {
                            Tensor::randn(
                                [data.periods(), data.count(), raw_len],
                                (Kind::Double, tch::Device::Cpu),
                            )
                        },
                    );
                    score_loss(&sim, &policy, &data, stores, t.noise_std, &noise)
                }
            };
            match opt.guarded_step(&loss, f64::INFINITY) {
                StepOutcome::Applied { grad_norm, .. } => {
                    cost_sum += cost;
                    norm_sum += grad_norm;
                    applied += 1;
                }
                StepOutcome::NonFinite { what } => {
                    state.nan_events += 1;
                    if cfg.run.on_nan == OnNan::Stop {
                        return Err(TrainError::NonFinite {
                            what: what.to_string(),
                            step: epoch,
                            hint: "lower train.lr, or set run.on_nan = \"skip\"",
                        });
                    }
                }
            }
        }
        state.epoch = epoch;
        state.optimizer_step = opt.step;
        let mut row = BTreeMap::new();
        row.insert("epoch".to_string(), epoch as f64);
        if applied > 0 {
            row.insert("train/cost".into(), cost_sum / applied as f64);
            row.insert("grad_norm".into(), norm_sum / applied as f64);
        }
        row.insert("nan_events".into(), state.nan_events as f64);
        row.extend(policy.summary());
        if let Some(c) = optimal_cost {
            row.insert("optimal_cost".into(), c);
        }
        let last = epoch == t.epochs;
        let mut stop = false;
        if last || epoch % e.every == 0 {
            let dev_cost = evaluate(&sim, &policy, &dev_data, e.dev_ignore, stores);
            row.insert("dev/cost".into(), dev_cost);
            state.wall_s = wall_before + clock.elapsed().as_secs_f64();
            if let Some(r) = dev_ref {
                let gap = gap_pct(dev_cost, r);
                row.insert("dev/gap_pct".into(), gap);
                // The same gap capped at 10%: early gaps of several hundred percent would
                // flatten a linear plot's approach to the optimum, which is what users look at.
                row.insert("dev/gap_pct_cap10".into(), gap.min(10.0));
                if state.tol_epoch.is_none() && gap <= t.tolerance_pct {
                    state.tol_epoch = Some(epoch);
                    state.tol_seconds = Some(state.wall_s);
                }
            }
            if dev_cost.is_finite() && state.best_dev.is_none_or(|b| dev_cost < b) {
                state.best_dev = Some(dev_cost);
                state.best_epoch = epoch;
                best = snapshot(&policy);
            }
            stop = t.patience > 0 && epoch - state.best_epoch >= t.patience;
        }
        state.wall_s = wall_before + clock.elapsed().as_secs_f64();
        row.insert("wall_s".into(), state.wall_s);
        sink.write(epoch, &row)?;
        let stopping = options.stop_after == Some(epoch);
        if last || stop || stopping || epoch % cfg.run.checkpoint_every == 0 {
            save_checkpoint(&run_dir, &state, &policy, &opt, &best)?;
        }
        if stopping && !last && !stop {
            return Ok(InventorySummary {
                run_dir,
                final_metrics: BTreeMap::new(),
                epochs: epoch,
            });
        }
        if stop {
            break;
        }
    }

    // Test: the best dev parameters on the long horizon, past the warm-up.
    restore(&policy, &best).map_err(TrainError::Config)?;
    let test_cost = evaluate(
        &sim,
        &policy,
        &ScenarioTensors::new(&test),
        e.test_ignore,
        stores,
    );
    let mut fin = BTreeMap::new();
    fin.insert("test/cost".to_string(), test_cost);
    fin.insert("best_epoch".into(), state.best_epoch as f64);
    fin.insert("epochs".into(), state.epoch as f64);
    fin.insert("wall_s".into(), state.wall_s);
    fin.insert("nan_events".into(), state.nan_events as f64);
    if let Some(b) = state.best_dev {
        fin.insert("dev/best_cost".into(), b);
    }
    if let Some(c) = optimal_cost {
        fin.insert("optimal_cost".into(), c);
        fin.insert("test/gap_known_pct".into(), gap_pct(test_cost, c));
    }
    if let Some(r) = test_reference.or(optimal_cost) {
        fin.insert("test/gap_pct".into(), gap_pct(test_cost, r));
        // Censored at the budget when never reached (tol_reached = 0): a lower bound.
        fin.insert("tol_reached".into(), state.tol_epoch.is_some() as u8 as f64);
        fin.insert(
            "epochs_to_tol".into(),
            state.tol_epoch.unwrap_or(state.epoch) as f64,
        );
        fin.insert(
            "seconds_to_tol".into(),
            state.tol_seconds.unwrap_or(state.wall_s),
        );
    }
    fin.extend(policy.summary());
    if let Some((k, v)) = fin.iter().find(|(_, v)| !v.is_finite()) {
        return Err(TrainError::NonFinite {
            what: format!("final metric `{k}` ({v})"),
            step: state.epoch,
            hint: "the policy diverged; lower train.lr",
        });
    }
    info.status = "finished".into();
    info.final_metrics = fin.clone();
    info.write(&run_dir)?;
    Ok(InventorySummary {
        run_dir,
        final_metrics: fin,
        epochs: state.epoch,
    })
}

fn ckpt_err(path: &Path, detail: impl ToString) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn save_checkpoint(
    run_dir: &Path,
    state: &LoopState,
    policy: &Policy,
    opt: &AdamW,
    best: &BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    save_checkpoint_dir(run_dir, &checkpoint_name(state.epoch), |dir| {
        let best: BTreeMap<String, Tensor> = best
            .iter()
            .map(|(k, v)| (k.clone(), v.shallow_clone()))
            .collect();
        let tensors = [snapshot(policy), best, opt.state_tensors()];
        for (name, t) in FILES.iter().zip(&tensors) {
            polopt_models::checkpoint::save_tensors(&dir.join(name), t)
                .map_err(|e| ckpt_err(dir, e))?;
        }
        let text = serde_json::to_string_pretty(state).map_err(|e| ckpt_err(dir, e))?;
        write_atomic(&dir.join("state.json"), text.as_bytes())
    })?;
    Ok(())
}

fn load_checkpoint(
    dir: &Path,
    policy: &Policy,
    opt: &mut AdamW,
    best: &mut BTreeMap<String, Tensor>,
) -> Result<LoopState, TrainError> {
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    let state: LoopState = serde_json::from_str(&text).map_err(|e| ckpt_err(&path, e))?;
    let load = |name: &str| {
        let p = dir.join(name);
        polopt_models::checkpoint::load_tensors(&p, tch::Device::Cpu).map_err(|e| ckpt_err(&p, e))
    };
    restore(policy, &load(FILES[0])?).map_err(|e| ckpt_err(&dir.join(FILES[0]), e))?;
    *best = load(FILES[1])?;
    opt.load_state_tensors(&load(FILES[2])?, state.optimizer_step)
        .map_err(|e| ckpt_err(&dir.join(FILES[2]), e))?;
    Ok(state)
}
