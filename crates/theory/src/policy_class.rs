//! Explicit policy classes on layered MDPs (agnostic-rl.md): a class is a list of named
//! deterministic layered policies `table[h][s]`. On the binary tree the state is the action
//! history, so these tables also cover history-dependent policies there.
use polopt_envs::tabular::layered::{LayeredMdp, LayeredPolicy};

use crate::TheoryError;

/// Names of the classes a run can ask for (`theory.settings.class`).
pub const CLASSES: &[&str] = &["spec4", "constant", "all"];

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyClass {
    pub names: Vec<String>,
    pub tables: Vec<LayeredPolicy>,
}

impl PolicyClass {
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// "always a" for every action a.
    pub fn constant_actions(layers: &[usize], n_actions: usize) -> Self {
        let mut class = Self::empty();
        for a in 0..n_actions {
            class.push(
                format!("always-{a}"),
                layers.iter().map(|&w| vec![a; w]).collect(),
            );
        }
        class
    }

    /// Open-loop action sequences (action `seq[h]` in every state of layer h), named by their
    /// digits.
    pub fn open_loop(layers: &[usize], sequences: &[Vec<usize>]) -> Self {
        let mut class = Self::empty();
        for seq in sequences {
            let name: String = seq.iter().map(|a| a.to_string()).collect();
            class.push(
                name,
                layers.iter().zip(seq).map(|(&w, &a)| vec![a; w]).collect(),
            );
        }
        class
    }

    /// The spec's four policies for H = 3: always-0, always-1, "011" and "101".
    pub fn spec_four(layers: &[usize]) -> Result<Self, TheoryError> {
        if layers.len() != 3 {
            return Err(TheoryError::Setting {
                key: "settings.class".into(),
                reason: format!(
                    "`spec4` is defined for H = 3, the tree has H = {}",
                    layers.len()
                ),
            });
        }
        let mut class = Self::constant_actions(layers, 2);
        let open = Self::open_loop(layers, &[vec![0, 1, 1], vec![1, 0, 1]]);
        class.names.extend(open.names);
        class.tables.extend(open.tables);
        Ok(class)
    }

    /// Every deterministic layered policy: `A^(Σ_h |S_h|)` of them, refused above `limit`.
    pub fn all_policies(
        layers: &[usize],
        n_actions: usize,
        limit: usize,
    ) -> Result<Self, TheoryError> {
        let slots: usize = layers.iter().sum();
        let count = (n_actions as f64).powi(slots as i32);
        if count > limit as f64 {
            return Err(TheoryError::Setting {
                key: "settings.class".into(),
                reason: format!("`all` has {count} policies here, more than the limit {limit}"),
            });
        }
        let mut class = Self::empty();
        for index in 0..count as usize {
            // Digit j (base A) of the index is the action in slot j (layer-major).
            let mut rest = index;
            let table = layers
                .iter()
                .map(|&w| {
                    (0..w)
                        .map(|_| {
                            let a = rest % n_actions;
                            rest /= n_actions;
                            a
                        })
                        .collect()
                })
                .collect();
            class.push(format!("policy-{index}"), table);
        }
        Ok(class)
    }

    /// A class by its settings name.
    pub fn by_name(name: &str, mdp: &LayeredMdp) -> Result<Self, TheoryError> {
        match name {
            "spec4" => Self::spec_four(mdp.layers()),
            "constant" => Ok(Self::constant_actions(mdp.layers(), mdp.n_actions())),
            "all" => Self::all_policies(mdp.layers(), mdp.n_actions(), 1 << 16),
            other => Err(TheoryError::Setting {
                key: "settings.class".into(),
                reason: format!("`{other}` is not one of {}", CLASSES.join(", ")),
            }),
        }
    }

    /// Exact values `V(π)` of every policy.
    pub fn values(&self, mdp: &LayeredMdp) -> Vec<f64> {
        self.tables.iter().map(|t| mdp.value(t)).collect()
    }

    fn empty() -> Self {
        Self {
            names: Vec::new(),
            tables: Vec::new(),
        }
    }

    fn push(&mut self, name: String, table: LayeredPolicy) {
        self.names.push(name);
        self.tables.push(table);
    }
}
