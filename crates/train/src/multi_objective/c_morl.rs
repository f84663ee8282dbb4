//! C-MORL (spec `c-morl.md`; Liu et al., ICLR 2025) on Deep Sea Treasure, and the linear-
//! scalarisation baseline it is judged against.
//!
//! Stage 1 trains one PPO policy per preference of the grid `{0, δ, …, 1}^m ∩ simplex` on the
//! scalarised advantage; every iterate's greedy vector return is offered to the Pareto archive.
//! Stage 2 repeatedly selects the `N` archived policies of largest crowding distance (never
//! selected before) and, for each objective `i`, copies the policy and runs `K` PPO iterations
//! that climb objective `i` alone with every other objective under the log barrier (the
//! repository's `ipo_update`), offering each iterate to the archive again. The baseline
//! (`linear-morl-*`) spends the whole budget on stage 1.
//!
//! The claim checked (spec "Small CPU check"): linear scalarisation finds only the supported
//! (convex-hull) points of the concave front, and the extension adds unsupported ones, so
//! C-MORL's hypervolume is larger.
use polopt_envs::multi_objective::{DeepSeaTreasure, TreasureValues, VectorRewardEnv};
use polopt_methods::multi_objective::{
    eu_weights, expected_utility, hypervolume, preference_grid, sparsity, ParetoArchive,
};
use polopt_theory::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

use super::tabular_ppo::{Direction, Envs, Learner, PpoSettings, TabularAgent, Thresholds};

pub const ENVS: &[&str] = &["dst-concave", "dst-convex"];

const CURVE_POINTS: u64 = 150;

fn values_of(env: &str) -> Result<TreasureValues, TheoryError> {
    match env {
        "dst-concave" => Ok(TreasureValues::Concave),
        "dst-convex" => Ok(TreasureValues::Convex),
        other => Err(TheoryError::Setting {
            key: "env".into(),
            reason: format!("`{other}` is not one of {}", ENVS.join(", ")),
        }),
    }
}

fn method_error(key: &str) -> impl Fn(polopt_methods::MethodError) -> TheoryError + '_ {
    move |e| TheoryError::Setting {
        key: format!("settings.{key}"),
        reason: e.to_string(),
    }
}

/// Everything a run reads from `[theory.settings]`.
struct Knobs {
    ppo: PpoSettings,
    delta: f64,
    init_fraction: f64,
    num_select: usize,
    update_iters: usize,
    beta: f64,
    barrier_t: f64,
    thresholds: Thresholds,
    reference: Vec<f64>,
    policy_buffer: usize,
}

fn knobs(s: &mut Settings, linear: bool) -> Result<Knobs, TheoryError> {
    let d = PpoSettings::default();
    let ppo = PpoSettings {
        gamma: s.f64("gamma", d.gamma, 0.0, 1.0)?,
        gae_lambda: s.f64("gae_lambda", d.gae_lambda, 0.0, 1.0)?,
        clip: s.f64("clip", d.clip, 0.0, 0.99)?,
        epochs: s.usize("epochs", d.epochs, 1, 100)?,
        minibatches: s.usize("minibatches", d.minibatches, 1, 1024)?,
        num_envs: s.usize("num_envs", d.num_envs, 1, 256)?,
        rollout_steps: s.usize("rollout_steps", d.rollout_steps, 1, 100_000)?,
        lr_actor: s.f64("lr_actor", d.lr_actor, 1e-6, 10.0)?,
        lr_critic: s.f64("lr_critic", d.lr_critic, 1e-6, 10.0)?,
        // 0.01, not the repository's 0: a softmax table turns deterministic within a few
        // iterations and stops exploring (docs/methods/c_morl.md has both measured).
        entropy_coef: s.f64("entropy_coef", 0.01, 0.0, 10.0)?,
        max_grad_norm: s.f64("max_grad_norm", d.max_grad_norm, 1e-6, 1e6)?,
    };
    let delta = s.f64("delta", 0.25, 0.01, 1.0)?;
    let init_fraction = if linear {
        1.0
    } else {
        s.f64("init_fraction", 0.4, 0.01, 1.0)?
    };
    let num_select = s.usize("num_select", 3, 1, 1000)?;
    let update_iters = s.usize("update_iters", 30, 1, 100_000)?;
    let beta = s.f64("beta", 0.9, 1e-6, 1.0)?;
    let barrier_t = s.f64("barrier_t", 20.0, 1e-6, 1e6)?;
    let thresholds = match s
        .choice("thresholds", "sign_safe", &["sign_safe", "code"])?
        .as_str()
    {
        "code" => Thresholds::Code,
        _ => Thresholds::SignSafe,
    };
    let reference = s.f64_list("reference", &[0.0, -25.0])?;
    let policy_buffer = s.usize("policy_buffer", 200, 1, 100_000)?;
    s.finish()?;
    Ok(Knobs {
        ppo,
        delta,
        init_fraction,
        num_select,
        update_iters,
        beta,
        barrier_t,
        thresholds,
        reference,
        policy_buffer,
    })
}

/// `c-morl-dst`.
pub fn run_c_morl(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, false)
}

/// `linear-morl-dst`: stage 1 with the whole budget.
pub fn run_linear(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, true)
}

/// The run's shared state: the budget, the archive, the curve.
struct Tracker {
    archive: ParetoArchive<TabularAgent>,
    env: DeepSeaTreasure,
    front: Vec<[f64; 2]>,
    supported: Vec<bool>,
    eu_weights: Vec<Vec<f64>>,
    reference: Vec<f64>,
    steps: u64,
    budget: u64,
    out: TheoryRun,
    should_log: Box<dyn Fn(u64) -> bool>,
    last_logged: u64,
}

impl Tracker {
    /// Evaluates the learner's greedy policy, offers it to the archive, logs now and then.
    fn offer(
        &mut self,
        learner: &Learner,
        batch: u64,
        stats: &std::collections::BTreeMap<&'static str, f64>,
        progress: &mut Progress,
    ) -> Result<(), TheoryError> {
        let before = self.steps;
        self.steps += batch;
        let j = learner.agent.evaluate(&mut self.env)?;
        self.archive
            .insert(j, learner.agent.clone())
            .map_err(method_error("archive"))?;
        // Log when a log point falls inside this iteration's steps.
        if (before + 1..=self.steps).any(|t| (self.should_log)(t)) || self.steps >= self.budget {
            let mut values: Vec<(&str, f64)> = self.measure()?;
            values.extend(stats.iter().map(|(k, v)| (*k, *v)));
            self.out.log(self.steps, &values);
            self.last_logged = self.steps;
            progress(self.steps.min(self.budget), self.budget);
        }
        Ok(())
    }

    fn measure(&self) -> Result<Vec<(&'static str, f64)>, TheoryError> {
        let points: Vec<&[f64]> = self.archive.objectives();
        let hv = if points.is_empty() {
            0.0
        } else {
            hypervolume(&points, &self.reference).map_err(method_error("reference"))?
        };
        let eu = if points.is_empty() {
            0.0
        } else {
            expected_utility(&points, &self.eu_weights).map_err(method_error("eu"))?
        };
        let sp = if points.len() < 2 {
            0.0
        } else {
            sparsity(&points).map_err(method_error("sparsity"))?
        };
        let found = |want_supported: Option<bool>| {
            self.front
                .iter()
                .zip(&self.supported)
                .filter(|(_, &s)| want_supported.is_none_or(|w| w == s))
                .filter(|(f, _)| {
                    points
                        .iter()
                        .any(|p| (p[0] - f[0]).abs() < 1e-9 && (p[1] - f[1]).abs() < 1e-9)
                })
                .count() as f64
        };
        let true_hv = hypervolume(&self.front, &self.reference).map_err(method_error("front"))?;
        Ok(vec![
            ("hypervolume", hv),
            ("hv_ratio", if true_hv > 0.0 { hv / true_hv } else { 0.0 }),
            ("expected_utility", eu),
            ("sparsity", sp),
            ("archive_size", points.len() as f64),
            ("front_points", found(None)),
            ("unsupported_points", found(Some(false))),
        ])
    }
}

/// Which points of a 2-objective front are vertices of its convex hull (toward larger values):
/// the only points a linear scalarisation `w · J` prefers strictly for some `w`. A point on a
/// hull edge or inside is reachable that way only at a tie, if at all. `front` is sorted by the
/// first objective ascending (as `DeepSeaTreasure::pareto_front` returns it).
///
/// Deep Sea Treasure's "concave" values make all but one point hull vertices in raw units
/// ((20.3, −14) lies on the edge between its neighbours), and the classic "convex" values only
/// the two ends: the names refer to the front's shape drawn the other way round.
pub fn supported_points(front: &[[f64; 2]]) -> Vec<bool> {
    let cross = |o: &[f64; 2], a: &[f64; 2], b: &[f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    // Monotone chain: walking right and down, the hull turns clockwise at every vertex.
    let mut hull: Vec<usize> = Vec::new();
    for k in 0..front.len() {
        while hull.len() >= 2
            && cross(
                &front[hull[hull.len() - 2]],
                &front[hull[hull.len() - 1]],
                &front[k],
            ) >= -1e-12
        {
            hull.pop();
        }
        hull.push(k);
    }
    let mut supported = vec![false; front.len()];
    for k in hull {
        supported[k] = true;
    }
    supported
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    mut progress: Progress,
    linear: bool,
) -> Result<TheoryRun, TheoryError> {
    let values = values_of(&spec.env)?;
    let k = knobs(settings, linear)?;
    let make_envs = || -> Envs {
        Envs::new(
            (0..k.ppo.num_envs)
                .map(|_| Box::new(DeepSeaTreasure::new(values)) as Box<dyn VectorRewardEnv>)
                .collect(),
        )
    };
    let probe = DeepSeaTreasure::new(values);
    let (n_obs, n_actions, m) = (
        probe.n_observations(),
        probe.n_actions(),
        probe.n_objectives(),
    );
    if k.reference.len() != m {
        return Err(TheoryError::Setting {
            key: "settings.reference".into(),
            reason: format!("{} values for {m} objectives", k.reference.len()),
        });
    }
    let front = probe.pareto_front();
    let batch = k.ppo.batch_size() as u64;
    let mut t = Tracker {
        archive: ParetoArchive::new(k.policy_buffer, k.reference.clone())
            .map_err(method_error("policy_buffer"))?,
        env: probe,
        supported: supported_points(&front),
        front,
        eu_weights: eu_weights(m).map_err(method_error("eu"))?,
        reference: k.reference.clone(),
        steps: 0,
        budget: spec.steps,
        out: TheoryRun::default(),
        should_log: Box::new(log_points(spec.steps, CURVE_POINTS)),
        last_logged: 0,
    };
    let grid = preference_grid(m, k.delta).map_err(method_error("delta"))?;
    let init_budget = (spec.steps as f64 * k.init_fraction) as u64;
    let iters_per_policy = (init_budget / (grid.len() as u64 * batch)).max(1);
    // Stage 1: one policy per preference, each on its own sampling stream.
    for (p, w) in grid.iter().enumerate() {
        let mut learner = Learner::new(TabularAgent::new(n_obs, n_actions, m), &k.ppo);
        let mut envs = make_envs();
        let mut stream = rng(spec.seed, &format!("init-{p}"));
        let direction = Direction::Scalarized(w.clone());
        for _ in 0..iters_per_policy {
            if t.steps + batch > spec.steps {
                break;
            }
            let stats = learner.iterate(&mut envs, &k.ppo, &direction, &mut stream, t.steps)?;
            t.offer(&learner, batch, &stats, &mut progress)?;
        }
    }
    t.out
        .final_metrics
        .insert("stage1_hypervolume".into(), t.measure()?[0].1);
    // Stage 2: extension from the sparsest archived policies, until the budget is spent.
    let mut round = 0;
    let mut reselections = 0;
    while !linear && t.steps + batch <= spec.steps {
        let mut picks = pick(&mut t.archive, k.num_select)?;
        if picks.is_empty() {
            // Every archived policy was extended once and budget is left: start over rather
            // than stop early, so both presets spend the same budget (the repository would
            // idle). Counted in `reselections`.
            t.archive.forget_selections();
            reselections += 1;
            picks = pick(&mut t.archive, k.num_select)?;
        }
        for (r, agent) in picks.into_iter().enumerate() {
            for objective in 0..m {
                let mut learner = Learner::new(agent.clone(), &k.ppo);
                let mut envs = make_envs();
                let mut stream = rng(spec.seed, &format!("extend-{round}-{r}-{objective}"));
                let direction = Direction::Constrained {
                    objective,
                    thresholds: k.thresholds,
                    beta: k.beta,
                    barrier_t: k.barrier_t,
                };
                for _ in 0..k.update_iters {
                    if t.steps + batch > spec.steps {
                        break;
                    }
                    let stats =
                        learner.iterate(&mut envs, &k.ppo, &direction, &mut stream, t.steps)?;
                    t.offer(&learner, batch, &stats, &mut progress)?;
                }
            }
        }
        round += 1;
    }
    if t.last_logged != t.steps {
        let values = t.measure()?;
        t.out.log(t.steps, &values);
    }
    for (name, value) in t.measure()? {
        t.out.final_metrics.insert(name.into(), value);
    }
    t.out
        .final_metrics
        .insert("extension_rounds".into(), round as f64);
    t.out
        .final_metrics
        .insert("reselections".into(), reselections as f64);
    t.out
        .final_metrics
        .insert("env_steps_used".into(), t.steps as f64);
    let csv = front_csv(&t);
    t.out.files.insert("pareto_front.csv".into(), csv);
    Ok(t.out)
}

fn pick(
    archive: &mut ParetoArchive<TabularAgent>,
    n: usize,
) -> Result<Vec<TabularAgent>, TheoryError> {
    Ok(archive
        .select(n)
        .map_err(method_error("num_select"))?
        .into_iter()
        .map(|e| e.policy.clone())
        .collect())
}

/// The archive's points and the true front, one row each: what the Pareto-front plot draws.
fn front_csv(t: &Tracker) -> String {
    let mut csv = String::from("source,objective_1,objective_2,supported\n");
    let mut found: Vec<&[f64]> = t.archive.objectives();
    found.sort_by(|a, b| a[0].total_cmp(&b[0]));
    for p in found {
        csv.push_str(&format!("archive,{},{},\n", p[0], p[1]));
    }
    for (p, s) in t.front.iter().zip(&t.supported) {
        csv.push_str(&format!("true_front,{},{},{s}\n", p[0], p[1]));
    }
    csv
}
