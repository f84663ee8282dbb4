//! The replay buffer: a ring of transitions `(s, a, r, s', terminated)` in flat `Vec<f32>`s,
//! sampled uniformly with replacement (SB3's `ReplayBuffer.sample`), and saved whole in the
//! checkpoint so that a resumed run samples the same minibatches.
//!
//! Actions are stored in the actor's `[-1, 1]` units (the environment sees them rescaled), and
//! `terminated` excludes time-limit truncation: a truncated episode still bootstraps from
//! `s'` (SB3's `handle_timeout_termination`), which on Pendulum is every episode.
use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// A minibatch as tensors: `obs, next_obs: [B, obs_dim]`, `actions: [B, act_dim]`,
/// `rewards, terminated: [B]` (f32; terminated as 0/1).
pub struct Batch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub rewards: Tensor,
    pub next_obs: Tensor,
    pub terminated: Tensor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBuffer {
    pub capacity: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Next slot to write.
    pos: usize,
    /// Filled slots (`capacity` once the ring has wrapped).
    len: usize,
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    terminated: Vec<f32>,
}

const FIELDS: [&str; 5] = ["obs", "actions", "rewards", "next_obs", "terminated"];

impl ReplayBuffer {
    /// An empty buffer; memory grows with use, up to `capacity` transitions.
    pub fn new(capacity: usize, obs_dim: usize, act_dim: usize) -> Self {
        Self {
            capacity,
            obs_dim,
            act_dim,
            pos: 0,
            len: 0,
            obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_obs: Vec::new(),
            terminated: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(
        &mut self,
        obs: &[f32],
        action: &[f32],
        reward: f64,
        next_obs: &[f32],
        terminated: bool,
    ) {
        let (o, a) = (self.obs_dim, self.act_dim);
        let done = if terminated { 1.0 } else { 0.0 };
        if self.len < self.capacity {
            self.obs.extend_from_slice(obs);
            self.actions.extend_from_slice(action);
            self.rewards.push(reward as f32);
            self.next_obs.extend_from_slice(next_obs);
            self.terminated.push(done);
            self.len += 1;
        } else {
            let i = self.pos;
            self.obs[i * o..(i + 1) * o].copy_from_slice(obs);
            self.actions[i * a..(i + 1) * a].copy_from_slice(action);
            self.rewards[i] = reward as f32;
            self.next_obs[i * o..(i + 1) * o].copy_from_slice(next_obs);
            self.terminated[i] = done;
        }
        self.pos = (self.pos + 1) % self.capacity;
    }

    /// `n` slot indices drawn uniformly with replacement from the filled part.
    pub fn sample_indices(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        (0..n).map(|_| rng.random_range(0..self.len)).collect()
    }

    /// The transitions at `indices` as tensors.
    pub fn gather(&self, indices: &[usize]) -> Batch {
        let rows = |src: &[f32], width: usize| {
            let mut out = Vec::with_capacity(indices.len() * width);
            for &i in indices {
                out.extend_from_slice(&src[i * width..(i + 1) * width]);
            }
            Tensor::from_slice(&out).view([indices.len() as i64, width as i64])
        };
        Batch {
            obs: rows(&self.obs, self.obs_dim),
            actions: rows(&self.actions, self.act_dim),
            rewards: rows(&self.rewards, 1).view([-1]),
            next_obs: rows(&self.next_obs, self.obs_dim),
            terminated: rows(&self.terminated, 1).view([-1]),
        }
    }

    /// A uniform minibatch of `n` transitions; panics on an empty buffer (the trainer only
    /// samples after at least one step).
    pub fn sample(&self, n: usize, rng: &mut ChaCha8Rng) -> Batch {
        self.gather(&self.sample_indices(n, rng))
    }

    /// The ring position, for the checkpoint's state (the contents go to [`Self::tensors`]).
    pub fn position(&self) -> (usize, usize) {
        (self.pos, self.len)
    }

    /// The filled part as named tensors (`obs [len, obs_dim]`, ...), for a safetensors file.
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        let n = self.len as i64;
        let t = |v: &[f32], w: usize| Tensor::from_slice(v).view([n, w as i64]);
        BTreeMap::from([
            ("obs".to_string(), t(&self.obs, self.obs_dim)),
            ("actions".to_string(), t(&self.actions, self.act_dim)),
            ("rewards".to_string(), t(&self.rewards, 1)),
            ("next_obs".to_string(), t(&self.next_obs, self.obs_dim)),
            ("terminated".to_string(), t(&self.terminated, 1)),
        ])
    }

    /// Refills the buffer from [`Self::tensors`] and [`Self::position`]; every field must be
    /// present with `len` rows of this buffer's widths.
    pub fn load(
        &mut self,
        tensors: &BTreeMap<String, Tensor>,
        (pos, len): (usize, usize),
    ) -> Result<(), String> {
        if len > self.capacity || pos >= self.capacity.max(1) {
            return Err(format!(
                "replay position {pos} / length {len} does not fit algo.buffer_size = {}",
                self.capacity
            ));
        }
        let mut fields = Vec::new();
        for (name, width) in FIELDS
            .iter()
            .zip([self.obs_dim, self.act_dim, 1, self.obs_dim, 1])
        {
            let t = tensors
                .get(*name)
                .ok_or_else(|| format!("replay buffer lacks `{name}`"))?;
            if t.size() != [len as i64, width as i64] {
                return Err(format!(
                    "replay `{name}` has shape {:?}, expected [{len}, {width}]",
                    t.size()
                ));
            }
            let flat = t.to_kind(Kind::Float).contiguous().view([-1]);
            fields.push(Vec::<f32>::try_from(&flat).map_err(|e| e.to_string())?);
        }
        let mut it = fields.into_iter();
        let mut next = || it.next().unwrap_or_default();
        self.obs = next();
        self.actions = next();
        self.rewards = next();
        self.next_obs = next();
        self.terminated = next();
        self.pos = pos;
        self.len = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::stream;

    fn filled(capacity: usize, steps: usize) -> ReplayBuffer {
        let mut b = ReplayBuffer::new(capacity, 2, 1);
        for k in 0..steps {
            let x = k as f32;
            b.push(
                &[x, -x],
                &[x / 10.0],
                k as f64,
                &[x + 1.0, -x - 1.0],
                k % 7 == 6,
            );
        }
        b
    }

    #[test]
    fn sampling_is_a_function_of_the_stream_alone() {
        let b = filled(100, 50);
        let first = b.sample_indices(64, &mut stream(3, "replay", 9));
        let again = b.sample_indices(64, &mut stream(3, "replay", 9));
        let other = b.sample_indices(64, &mut stream(3, "replay", 10));
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert!(first.iter().all(|&i| i < 50));
    }

    #[test]
    fn the_ring_overwrites_the_oldest_transition_and_rows_stay_aligned() {
        let b = filled(4, 6);
        assert_eq!(b.position(), (2, 4));
        // Slots 0 and 1 now hold steps 4 and 5; slots 2 and 3 still steps 2 and 3.
        let batch = b.gather(&[0, 1, 2, 3]);
        let rewards = Vec::<f32>::try_from(&batch.rewards).unwrap();
        assert_eq!(rewards, vec![4.0, 5.0, 2.0, 3.0]);
        let obs = Vec::<f32>::try_from(&batch.obs.view([-1])).unwrap();
        assert_eq!(obs, vec![4.0, -4.0, 5.0, -5.0, 2.0, -2.0, 3.0, -3.0]);
        let next = Vec::<f32>::try_from(&batch.next_obs.view([-1])).unwrap();
        assert_eq!(next[0], 5.0);
    }

    #[test]
    fn saved_tensors_restore_an_identical_buffer() {
        let b = filled(8, 11);
        let mut restored = ReplayBuffer::new(8, 2, 1);
        restored.load(&b.tensors(), b.position()).unwrap();
        assert_eq!(restored, b);
        let mut wrong = ReplayBuffer::new(8, 3, 1);
        let err = wrong.load(&b.tensors(), b.position()).unwrap_err();
        assert!(err.contains("`obs`"), "{err}");
    }
}
