//! EXPO's critic: an ensemble of E Q-networks with Polyak-averaged target copies; the min over
//! all members is the pessimistic estimate (spec: E = 2, `num_min_qs` = 2).
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::params::{polyak, Activation, Mlp};

pub struct QEnsemble {
    pub vs: VarStore,
    members: Vec<Mlp>,
    target_vs: VarStore,
    targets: Vec<Mlp>,
}

impl QEnsemble {
    pub fn new(obs_dim: i64, act_dim: i64, hidden: &[i64], members: usize) -> Self {
        let build = |vs: &VarStore| {
            (0..members)
                .map(|j| {
                    Mlp::new(
                        &(vs.root() / format!("q{j}")),
                        obs_dim + act_dim,
                        hidden,
                        1,
                        Activation::Relu,
                    )
                })
                .collect::<Vec<_>>()
        };
        let vs = VarStore::new(Device::Cpu);
        let online = build(&vs);
        let mut target_vs = VarStore::new(Device::Cpu);
        let targets = build(&target_vs);
        // Same builder, same names: the copy cannot fail.
        let _ = target_vs.copy(&vs);
        target_vs.freeze();
        QEnsemble {
            vs,
            members: online,
            target_vs,
            targets,
        }
    }

    /// Q of every member: `[E, B]`.
    pub fn all(&self, obs: &Tensor, actions: &Tensor, target: bool) -> Tensor {
        let input = Tensor::cat(&[obs.shallow_clone(), actions.shallow_clone()], 1);
        let nets = if target { &self.targets } else { &self.members };
        Tensor::stack(
            &nets
                .iter()
                .map(|q| q.forward(&input).squeeze_dim(1))
                .collect::<Vec<_>>(),
            0,
        )
    }

    /// min_j Q_j: `[B]`.
    pub fn min_q(&self, obs: &Tensor, actions: &Tensor, target: bool) -> Tensor {
        self.all(obs, actions, target)
            .min_dim(0, false)
            .0
            .to_kind(Kind::Float)
    }

    /// The target copies' variables (checkpoints).
    pub fn target_store(&self) -> &VarStore {
        &self.target_vs
    }

    pub fn update_target(&self, tau: f64) {
        polyak(&self.target_vs, &self.vs, tau);
    }
}
