//! Rollouts of a policy through the tensor simulator on a batch of scenarios, and the two
//! gradient estimators that turn one into a loss:
//!
//! - [`pathwise_loss`] (HDPO, spec "Method"): `L = sum_{b,t} c_t / (B T n)` with the graph
//!   through the whole `T`-period rollout, so `backward` is BPTT through the dynamics.
//! - [`score_loss`] (the REINFORCE comparator): the same simulator run without gradients on
//!   actions from `raw + sigma * eps`; the surrogate `sum_{b,t} log pi(u_t | x_t) (C_t - b_t)
//!   / (B T n)` with the cost-to-go `C_t = sum_{s >= t} c_s` and the per-period batch-mean
//!   baseline `b_t`, whose gradient is the score-function estimate of `grad L`.
use polopt_envs::inventory::Scenarios;
use tch::{Kind, Tensor};

use super::policy::Policy;
use super::sim::{f64s, TensorSim};

/// Scenarios as tensors: `initial: [M, state_len]`, `demand: [M, T, stores]`.
pub struct ScenarioTensors {
    pub initial: Tensor,
    pub demand: Tensor,
}

impl ScenarioTensors {
    pub fn new(s: &Scenarios) -> Self {
        let (m, t, n) = (s.count as i64, s.periods as i64, s.stores as i64);
        Self {
            initial: f64s(&s.initial).view([m, s.state_len as i64]),
            demand: f64s(&s.demand).view([m, t, n]),
        }
    }

    pub fn select(&self, index: &Tensor) -> Self {
        Self {
            initial: self.initial.index_select(0, index),
            demand: self.demand.index_select(0, index),
        }
    }

    pub fn count(&self) -> i64 {
        self.initial.size()[0]
    }

    pub fn periods(&self) -> i64 {
        self.demand.size()[1]
    }
}

/// Per-period total costs `[B, T]` of the deterministic policy, with the graph.
pub fn costs(sim: &TensorSim, policy: &Policy, data: &ScenarioTensors) -> Tensor {
    let mut x = data.initial.shallow_clone();
    let mut out = Vec::with_capacity(data.periods() as usize);
    for t in 0..data.periods() {
        let a = policy.actions(&x);
        let (next, cost) = sim.step(&x, &a, &data.demand.select(1, t));
        out.push(cost);
        x = next;
    }
    Tensor::stack(&out, 1)
}

/// HDPO's loss and the detached per-store cost per period (the same number, for logging).
pub fn pathwise_loss(
    sim: &TensorSim,
    policy: &Policy,
    data: &ScenarioTensors,
    stores: usize,
) -> (Tensor, f64) {
    let c = costs(sim, policy, data);
    let loss = c.mean(Kind::Double) / stores as f64;
    let value = loss.double_value(&[]);
    (loss, value)
}

/// REINFORCE's surrogate and the per-store cost per period of the noisy rollout.
/// `noise: [T, B, action_raw_len]` standard normals.
pub fn score_loss(
    sim: &TensorSim,
    policy: &Policy,
    data: &ScenarioTensors,
    stores: usize,
    noise_std: f64,
    noise: &Tensor,
) -> (Tensor, f64) {
    let periods = data.periods();
    let (states, perturbed, costs) = tch::no_grad(|| {
        let mut x = data.initial.shallow_clone();
        let (mut states, mut perturbed, mut costs) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..periods {
            let u = policy.raw(&x) + noise.get(t) * noise_std;
            let a = policy.act(&u, &x);
            let (next, cost) = sim.step(&x, &a, &data.demand.select(1, t));
            states.push(x);
            perturbed.push(u);
            costs.push(cost);
            x = next;
        }
        (
            Tensor::cat(&states, 0),
            Tensor::cat(&perturbed, 0),
            Tensor::stack(&costs, 1),
        )
    });
    let b = data.count();
    // log N(u; raw(x), sigma^2) up to a constant, summed over the action's components: [T, B].
    let z = (perturbed - policy.raw(&states)) / noise_std;
    let logp = (z.square() * -0.5)
        .sum_dim_intlist(1, false, Kind::Double)
        .view([periods, b])
        .transpose(0, 1);
    let to_go = costs.flip([1]).cumsum(1, Kind::Double).flip([1]);
    let advantage = &to_go - to_go.mean_dim(0, true, Kind::Double);
    let loss = (logp * advantage).mean(Kind::Double) / stores as f64;
    let value = costs.mean(Kind::Double).double_value(&[]) / stores as f64;
    (loss, value)
}

/// Average cost per period per store over periods `>= ignore`, without gradients.
pub fn evaluate(
    sim: &TensorSim,
    policy: &Policy,
    data: &ScenarioTensors,
    ignore: usize,
    stores: usize,
) -> f64 {
    tch::no_grad(|| {
        let c = costs(sim, policy, data);
        let kept = c.narrow(1, ignore as i64, data.periods() - ignore as i64);
        kept.mean(Kind::Double).double_value(&[]) / stores as f64
    })
}
