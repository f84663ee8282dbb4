//! The reference schedule of the preference loops (`method.preference.reference`): frozen
//! snapshots of the policy taken every `refresh_every` steps into `<run>/references/`, the
//! latest one as the iterate pi_t (online DPO's moving reference, INPO's previous iterate),
//! all of them as SePPO's pool. Snapshots are written atomically and listed in the
//! checkpoint, so a resumed run sees the same references.
use std::path::{Path, PathBuf};

use polopt_methods::ReferenceSchedule;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::policy::Policy;
use crate::run_dir::{checkpoint_name, save_dir_atomic};
use crate::seeds::{stream, with_torch_seed};

/// What the checkpoint keeps: the steps whose snapshots exist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotState {
    pub steps: Vec<usize>,
}

pub struct Snapshots {
    root: PathBuf,
    refresh_every: usize,
    seed: u64,
    pub state: SnapshotState,
    /// The loaded snapshot and its step: the iterate, or the pool member drawn last.
    loaded: Option<(usize, Policy)>,
}

impl Snapshots {
    pub fn new(run_dir: &Path, refresh_every: usize, seed: u64) -> Self {
        Self {
            root: run_dir.join("references"),
            refresh_every,
            seed,
            state: SnapshotState::default(),
            loaded: None,
        }
    }

    /// Before step `step` trains: at the start of each iteration (steps 1, 1 + r, 1 + 2r,
    /// ...) the current policy becomes a snapshot.
    pub fn before_step(&mut self, policy: &Policy, step: usize) -> Result<(), TrainError> {
        let at = step - 1;
        if !at.is_multiple_of(self.refresh_every) {
            return Ok(());
        }
        let dir = save_dir_atomic(&self.root, &checkpoint_name(at), |dir| policy.save(dir))?;
        if !self.state.steps.contains(&at) {
            self.state.steps.push(at);
        }
        self.loaded = Some((at, self.load(policy, &dir)?));
        Ok(())
    }

    /// Loads the snapshot step `step` uses and returns it: the pool member drawn for the step
    /// under [`ReferenceSchedule::Pool`], else the iterate (the newest snapshot). `None`
    /// before the first snapshot.
    pub fn prepare(
        &mut self,
        policy: &Policy,
        schedule: ReferenceSchedule,
        step: usize,
    ) -> Result<Option<&Policy>, TrainError> {
        let steps = &self.state.steps;
        let wanted = match schedule {
            ReferenceSchedule::Pool if !steps.is_empty() => {
                let mut rng = stream(self.seed, "pref-pool", step as u64);
                Some(steps[rng.random_range(0..steps.len())])
            }
            _ => self.latest(),
        };
        let Some(wanted) = wanted else {
            return Ok(None);
        };
        if self.loaded.as_ref().map(|(s, _)| *s) != Some(wanted) {
            let dir = self.root.join(checkpoint_name(wanted));
            self.loaded = Some((wanted, self.load(policy, &dir)?));
        }
        Ok(self.loaded.as_ref().map(|(_, p)| p))
    }

    fn latest(&self) -> Option<usize> {
        self.state.steps.iter().copied().max()
    }

    pub fn restore(&mut self, state: SnapshotState, from: &Path) -> Result<(), TrainError> {
        for &s in &state.steps {
            let dir = self.root.join(checkpoint_name(s));
            if !dir.is_dir() {
                return Err(TrainError::Checkpoint {
                    path: from.to_path_buf(),
                    detail: format!(
                        "the reference snapshot {} is missing; it is part of the run",
                        dir.display()
                    ),
                });
            }
        }
        self.state = state;
        self.loaded = None;
        Ok(())
    }

    fn load(&self, policy: &Policy, dir: &Path) -> Result<Policy, TrainError> {
        // The random init is overwritten; it draws under the seeded-draw lock (see seeds.rs).
        with_torch_seed(self.seed, "reference-snapshot", 0, || {
            policy.frozen_from(dir)
        })
    }
}
