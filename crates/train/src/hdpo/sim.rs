//! Differentiable simulators: the dynamics of `polopt_envs::inventory` on batched f64 tensors,
//! so that autograd carries the gradient of the cost through every max/min/clip (spec,
//! "Simulator step"; subgradients at kinks are autograd's: `relu'(0) = 0`). The flat state
//! layout, the event order and the costs are those of the f64 reference simulators, which the
//! tests check period by period.
use polopt_envs::inventory::serial::SerialProblem;
use polopt_envs::inventory::store::StoreProblem;
use polopt_envs::inventory::warehouse::WarehouseProblem;
use tch::{Device, Kind, Tensor};

/// Which network, with its constants as tensors where the step needs them.
pub enum TensorSim {
    Store(StoreProblem),
    Serial(SerialProblem),
    Warehouse {
        problem: WarehouseProblem,
        /// `[n]` store holding and underage costs.
        holding: Tensor,
        underage: Tensor,
        /// `[n, K]`: one-hot of the slot `L_i - 1` where store `i`'s shipment lands.
        arrival_slot: Tensor,
    },
}

pub fn f64s(values: &[f64]) -> Tensor {
    Tensor::from_slice(values).to_kind(Kind::Double)
}

/// `x' = (on_hand + p_1, p_2, ..., p_{L-1}, arrival)` for `node: [.., L]`, `on_hand`, `arrival`
/// shaped like `node` without its last axis.
fn shift(node: &Tensor, on_hand: &Tensor, arrival: &Tensor) -> Tensor {
    let k = *node.size().last().unwrap_or(&1);
    if k == 1 {
        return (on_hand + arrival).unsqueeze(-1);
    }
    let first = (on_hand + node.narrow(-1, 1, 1).squeeze_dim(-1)).unsqueeze(-1);
    let middle = node.narrow(-1, 2, k - 2);
    Tensor::cat(&[first, middle, arrival.unsqueeze(-1)], -1)
}

impl TensorSim {
    pub fn warehouse(problem: WarehouseProblem) -> Self {
        let k = problem.store_state_len();
        let mut slots = vec![0.0; problem.stores() * k];
        for (i, l) in problem.store_lead_times.iter().enumerate() {
            slots[i * k + l - 1] = 1.0;
        }
        let n = problem.stores() as i64;
        TensorSim::Warehouse {
            holding: f64s(&problem.store_holding),
            underage: f64s(&problem.store_underage),
            arrival_slot: f64s(&slots).view([n, k as i64]),
            problem,
        }
    }

    pub fn state_len(&self) -> usize {
        match self {
            TensorSim::Store(p) => p.state_len(),
            TensorSim::Serial(p) => p.state_len(),
            TensorSim::Warehouse { problem, .. } => problem.state_len(),
        }
    }

    /// Numbers per action: the order, the shipments of every node, or the warehouse order
    /// followed by the store requests.
    pub fn action_len(&self) -> usize {
        match self {
            TensorSim::Store(_) => 1,
            TensorSim::Serial(p) => p.nodes(),
            TensorSim::Warehouse { problem, .. } => 1 + problem.stores(),
        }
    }

    /// One period: `x: [B, state_len]`, `a: [B, action_len]`, `d: [B, stores]`. Returns the
    /// next state and the period's total cost `[B]` (summed over stores, not normalised).
    pub fn step(&self, x: &Tensor, a: &Tensor, d: &Tensor) -> (Tensor, Tensor) {
        match self {
            TensorSim::Store(p) => {
                let on_hand = x.select(1, 0) - d.select(1, 0);
                let cost = (-&on_hand).relu() * p.underage + on_hand.relu() * p.holding;
                let on_hand = if p.lost_sales {
                    on_hand.relu()
                } else {
                    on_hand
                };
                (shift(x, &on_hand, &a.select(1, 0)), cost)
            }
            TensorSim::Serial(p) => serial_step(p, x, a, d),
            TensorSim::Warehouse {
                problem,
                holding,
                underage,
                arrival_slot,
            } => {
                let (n, k) = (problem.stores() as i64, problem.store_state_len() as i64);
                let lw = problem.warehouse_lead_time as i64;
                let warehouse = x.narrow(1, 0, lw);
                let stores = x.narrow(1, lw, n * k).view([-1, n, k]);
                let requests = a.narrow(1, 1, n);
                let total = requests.sum_dim_intlist(1, true, Kind::Double);
                let scale =
                    (warehouse.narrow(1, 0, 1).relu() / total.clamp_min(1e-12)).clamp_max(1.0);
                let shipped = &requests * scale;
                let w_on_hand =
                    warehouse.select(1, 0) - shipped.sum_dim_intlist(1, false, Kind::Double);
                let mut cost = &w_on_hand * problem.warehouse_holding;
                let w_next = shift(&warehouse, &w_on_hand, &a.select(1, 0));
                let post = stores.select(2, 0) - d;
                cost += ((-&post).relu() * underage + post.relu() * holding).sum_dim_intlist(
                    1,
                    false,
                    Kind::Double,
                );
                let zero = post.zeros_like();
                let s_next =
                    shift(&stores, &post.relu(), &zero) + shipped.unsqueeze(2) * arrival_slot;
                (Tensor::cat(&[w_next, s_next.view([-1, n * k])], 1), cost)
            }
        }
    }
}

fn serial_step(p: &SerialProblem, x: &Tensor, a: &Tensor, d: &Tensor) -> (Tensor, Tensor) {
    let n = p.nodes();
    let mut parts = Vec::with_capacity(n);
    let mut cost = Tensor::zeros([x.size()[0]], (Kind::Double, Device::Cpu));
    for k in 0..n {
        let node = x.narrow(1, p.offset(k) as i64, p.lead_times[k] as i64);
        // A new tensor, not `-=`: the on-hand is a view of the state, which the graph keeps.
        let on_hand = if k + 1 < n {
            let held = node.select(1, 0) - a.select(1, k as i64 + 1);
            cost += &held * p.holding[k];
            held
        } else {
            let post = node.select(1, 0) - d.select(1, 0);
            cost += (-&post).relu() * p.underage + post.relu() * p.holding[k];
            post
        };
        parts.push(shift(&node, &on_hand, &a.select(1, k as i64)));
    }
    (Tensor::cat(&parts, 1), cost)
}
