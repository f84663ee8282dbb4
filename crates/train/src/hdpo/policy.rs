//! The policies of the spec ("Policies / architectures"), each split into a pre-activation
//! `raw(x)` and a deterministic, differentiable map `act(raw, x)` to feasible actions. HDPO
//! differentiates `act(raw(x), x)`; the REINFORCE comparator perturbs `raw` with Gaussian
//! noise and differentiates its log-density, so both estimators train the same parameters.
//!
//! - vanilla: ELU MLP on the flattened state (divided by the mean demand, a fixed rescaling
//!   of the first layer), `q = softplus(net(x) + 1)`; serial: `a_0 = softplus(.)`, shipments
//!   `a_k = sigmoid(.) x upstream on-hand`; warehouse: warehouse order and store requests.
//! - base-stock `q = max(S - sum(x), 0)`, `S` init 10; capped `min(., cap)`, cap init 10.
//! - echelon-stock (serial): levels are cumulative sums of `softplus(theta + 10)` from the
//!   store up, so they are ordered; node `k` asks `max(S_k - echelon position_k, 0)` capped by
//!   the upstream on-hand.
//! - symmetric (warehouse): a context net over the whole state, one store net shared by all
//!   stores (own state, own costs and lead time, context), a warehouse net (its state, context).
use std::collections::BTreeMap;

use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::config::PolicyKind;
use super::sim::{f64s, TensorSim};
use polopt_envs::inventory::serial::SerialProblem;
use polopt_envs::inventory::warehouse::WarehouseProblem;

pub struct Policy {
    pub vs: VarStore,
    body: Body,
}

enum Body {
    /// Single store, serial or warehouse: one MLP on the flattened state.
    Vanilla {
        net: nn::Sequential,
        scale: f64,
        shape: Shape,
    },
    BaseStock {
        level: Tensor,
    },
    CappedBaseStock {
        level: Tensor,
        cap: Tensor,
    },
    EchelonStock {
        theta: Tensor,
        problem: SerialProblem,
    },
    Symmetric(Box<Symmetric>),
}

/// How a vanilla net's outputs become actions.
#[derive(Clone)]
enum Shape {
    Store,
    Serial(SerialProblem),
    Warehouse,
}

struct Symmetric {
    context: nn::Sequential,
    store: nn::Sequential,
    warehouse: nn::Sequential,
    problem: WarehouseProblem,
    /// `[n, 3]`: each store's holding cost, underage cost and lead time.
    features: Tensor,
    scale: f64,
}

const CONTEXT: i64 = 8;

fn mlp(path: &nn::Path, input: i64, hidden: &[i64], output: i64) -> nn::Sequential {
    let mut seq = nn::seq();
    let mut width = input;
    for (i, &h) in hidden.iter().enumerate() {
        seq = seq
            .add(nn::linear(
                path / format!("l{i}"),
                width,
                h,
                Default::default(),
            ))
            .add_fn(|x| x.elu());
        width = h;
    }
    seq.add(nn::linear(path / "out", width, output, Default::default()))
}

impl Policy {
    /// Builds the policy for `sim`; call under `seeds::with_torch_seed` (network init draws
    /// from libtorch's generator). Parameters are f64 like the simulator.
    pub fn new(kind: PolicyKind, sim: &TensorSim, hidden: &[i64]) -> Self {
        let mut vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let scalar = |name: &str, v: f64| root.var_copy(name, &f64s(&[v]));
        let body = match (kind, sim) {
            (PolicyKind::BaseStock, _) => Body::BaseStock {
                level: scalar("level", 10.0),
            },
            (PolicyKind::CappedBaseStock, _) => Body::CappedBaseStock {
                level: scalar("level", 10.0),
                cap: scalar("cap", 10.0),
            },
            (PolicyKind::EchelonStock, TensorSim::Serial(p)) => Body::EchelonStock {
                theta: root.var_copy("theta", &f64s(&vec![0.0; p.nodes()])),
                problem: p.clone(),
            },
            (PolicyKind::Symmetric, TensorSim::Warehouse { problem, .. }) => {
                let (n, k) = (problem.stores(), problem.store_state_len() as i64);
                let lw = problem.warehouse_lead_time as i64;
                let mut features = Vec::new();
                for i in 0..n {
                    features.push(problem.store_holding[i]);
                    features.push(problem.store_underage[i] / 10.0);
                    features.push(problem.store_lead_times[i] as f64 / 3.0);
                }
                Body::Symmetric(Box::new(Symmetric {
                    context: mlp(
                        &(&root / "context"),
                        sim.state_len() as i64,
                        hidden,
                        CONTEXT,
                    ),
                    store: mlp(&(&root / "store"), k + 3 + CONTEXT, hidden, 1),
                    warehouse: mlp(&(&root / "warehouse"), lw + CONTEXT, hidden, 1),
                    features: f64s(&features).view([n as i64, 3]),
                    scale: mean_demand(sim),
                    problem: problem.clone(),
                }))
            }
            _ => {
                let shape = match sim {
                    TensorSim::Store(_) => Shape::Store,
                    TensorSim::Serial(p) => Shape::Serial(p.clone()),
                    TensorSim::Warehouse { .. } => Shape::Warehouse,
                };
                let net = mlp(
                    &(&root / "net"),
                    sim.state_len() as i64,
                    hidden,
                    sim.action_len() as i64,
                );
                Body::Vanilla {
                    net,
                    scale: mean_demand(sim),
                    shape,
                }
            }
        };
        vs.double();
        Self { vs, body }
    }

    /// Pre-activations `[B, m]` for states `x: [B, state_len]`.
    pub fn raw(&self, x: &Tensor) -> Tensor {
        match &self.body {
            Body::Vanilla { net, scale, .. } => net.forward(&(x / *scale)),
            Body::BaseStock { level } => (level - position(x)).unsqueeze(1),
            Body::CappedBaseStock { level, cap } => {
                let gap = level - position(x);
                Tensor::stack(&[gap, cap.expand([x.size()[0]], false)], 1)
            }
            Body::EchelonStock { theta, problem } => {
                // Levels from the store up: S_store = sp(theta_last + 10), each upstream
                // level adds its own softplus, so S_0 >= S_1 >= ... >= S_store.
                let steps = (theta + 10.0)
                    .softplus()
                    .flip([0])
                    .cumsum(0, Kind::Double)
                    .flip([0]);
                let positions: Vec<Tensor> = (0..problem.nodes())
                    .map(|k| {
                        let off = problem.offset(k) as i64;
                        x.narrow(1, off, x.size()[1] - off)
                            .sum_dim_intlist(1, false, Kind::Double)
                    })
                    .collect();
                steps.unsqueeze(0) - Tensor::stack(&positions, 1)
            }
            Body::Symmetric(s) => s.raw(x),
        }
    }

    /// Feasible actions `[B, action_len]` from pre-activations.
    pub fn act(&self, raw: &Tensor, x: &Tensor) -> Tensor {
        match &self.body {
            Body::Vanilla { shape, .. } => match shape {
                Shape::Store | Shape::Warehouse => (raw + 1.0).softplus(),
                Shape::Serial(p) => {
                    let outside = (raw.narrow(1, 0, 1) + 1.0).softplus();
                    let upstream = upstream_on_hand(p, x);
                    let fractions = raw.narrow(1, 1, p.nodes() as i64 - 1).sigmoid();
                    Tensor::cat(&[outside, fractions * upstream], 1)
                }
            },
            Body::BaseStock { .. } => raw.relu(),
            Body::CappedBaseStock { .. } => {
                let q = raw.narrow(1, 0, 1).relu();
                q.minimum(&raw.narrow(1, 1, 1))
            }
            Body::EchelonStock { problem, .. } => {
                let ask = raw.relu();
                let upstream = upstream_on_hand(problem, x);
                let capped = ask
                    .narrow(1, 1, problem.nodes() as i64 - 1)
                    .minimum(&upstream);
                Tensor::cat(&[ask.narrow(1, 0, 1), capped], 1)
            }
            Body::Symmetric(_) => (raw + 1.0).softplus(),
        }
    }

    /// Deterministic actions.
    pub fn actions(&self, x: &Tensor) -> Tensor {
        self.act(&self.raw(x), x)
    }

    /// Interpretable parameters for the metrics (base-stock level, cap, echelon levels).
    pub fn summary(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        match &self.body {
            Body::BaseStock { level } => {
                out.insert("policy/level".into(), level.double_value(&[0]));
            }
            Body::CappedBaseStock { level, cap } => {
                out.insert("policy/level".into(), level.double_value(&[0]));
                out.insert("policy/cap".into(), cap.double_value(&[0]));
            }
            Body::EchelonStock { theta, .. } => {
                let levels = tch::no_grad(|| {
                    (theta + 10.0)
                        .softplus()
                        .flip([0])
                        .cumsum(0, Kind::Double)
                        .flip([0])
                });
                for k in 0..levels.size()[0] {
                    out.insert(format!("policy/level_{k}"), levels.double_value(&[k]));
                }
            }
            _ => {}
        }
        out
    }
}

fn position(x: &Tensor) -> Tensor {
    x.sum_dim_intlist(1, false, Kind::Double)
}

/// `[B, nodes - 1]`: the on-hand (clipped at 0) of the node feeding each node `k >= 1`.
fn upstream_on_hand(p: &SerialProblem, x: &Tensor) -> Tensor {
    let cols: Vec<Tensor> = (0..p.nodes() - 1)
        .map(|k| x.select(1, p.offset(k) as i64).relu())
        .collect();
    Tensor::stack(&cols, 1)
}

fn mean_demand(sim: &TensorSim) -> f64 {
    match sim {
        TensorSim::Store(p) => p.demand.mean(),
        TensorSim::Serial(p) => p.demand.mean(),
        TensorSim::Warehouse { problem, .. } => {
            problem.store_means.iter().sum::<f64>() / problem.stores() as f64
        }
    }
}

impl Symmetric {
    fn raw(&self, x: &Tensor) -> Tensor {
        let p = &self.problem;
        let (n, k) = (p.stores() as i64, p.store_state_len() as i64);
        let lw = p.warehouse_lead_time as i64;
        let b = x.size()[0];
        let xs = x / self.scale;
        let context = self.context.forward(&xs);
        let stores = xs.narrow(1, lw, n * k).view([b, n, k]);
        let store_in = Tensor::cat(
            &[
                stores,
                self.features.unsqueeze(0).expand([b, n, 3], false),
                context.unsqueeze(1).expand([b, n, CONTEXT], false),
            ],
            2,
        );
        let requests = self.store.forward(&store_in).squeeze_dim(2);
        let warehouse = self
            .warehouse
            .forward(&Tensor::cat(&[xs.narrow(1, 0, lw), context], 1));
        Tensor::cat(&[warehouse, requests], 1)
    }
}
