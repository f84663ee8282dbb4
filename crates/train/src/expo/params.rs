//! Small helpers shared by EXPO's networks: a SiLU/ReLU MLP of `nn::Linear`s, and Polyak
//! averaging between two var stores of the same layout.
use tch::nn::{self, Module, VarStore};
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Relu,
    Silu,
}

#[derive(Debug)]
pub(crate) struct Mlp {
    layers: Vec<nn::Linear>,
    activation: Activation,
}

impl Mlp {
    pub(crate) fn new(
        path: &nn::Path,
        input: i64,
        hidden: &[i64],
        output: i64,
        activation: Activation,
    ) -> Self {
        let mut dims = vec![input];
        dims.extend_from_slice(hidden);
        dims.push(output);
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / format!("l{i}"), w[0], w[1], Default::default()))
            .collect();
        Mlp { layers, activation }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i < last {
                h = match self.activation {
                    Activation::Relu => h.relu(),
                    Activation::Silu => h.silu(),
                };
            }
        }
        h
    }
}

/// `target ← (1 − τ) target + τ online`, variable by variable (same names in both stores).
pub(crate) fn polyak(target: &VarStore, online: &VarStore, tau: f64) {
    let online = online.variables();
    tch::no_grad(|| {
        for (name, mut t) in target.variables() {
            if let Some(o) = online.get(&name) {
                t.copy_(&(&t * (1.0 - tau) + o * tau));
            }
        }
    });
}
