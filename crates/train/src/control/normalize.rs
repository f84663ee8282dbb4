//! Running observation normalisation and reward scaling for continuous control
//! (ppo-baseline.md, "Normalization"; SB3 `VecNormalize`, CleanRL's gymnasium wrappers).
//!
//! Both keep plain f64 statistics that serialise into the checkpoint, so a resumed run
//! normalises exactly as the uninterrupted one.
use serde::{Deserialize, Serialize};

/// Welford/Chan running mean and variance per component (SB3 `RunningMeanStd`, count starting
/// at 1e-4 so that the first update is not a division by zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub count: f64,
}

impl RunningMeanStd {
    pub fn new(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Merges a batch of rows (`[rows * dim]`) into the statistics.
    pub fn update(&mut self, batch: &[f64], rows: usize) {
        if rows == 0 {
            return;
        }
        let dim = self.mean.len();
        let n = rows as f64;
        let total = self.count + n;
        for d in 0..dim {
            let column = (0..rows).map(|r| batch[r * dim + d]);
            let batch_mean = column.clone().sum::<f64>() / n;
            let batch_var = column.map(|x| (x - batch_mean).powi(2)).sum::<f64>() / n;
            let delta = batch_mean - self.mean[d];
            let m2 =
                self.var[d] * self.count + batch_var * n + delta * delta * self.count * n / total;
            self.mean[d] += delta * n / total;
            self.var[d] = m2 / total;
        }
        self.count = total;
    }
}

/// `clip((obs - mean) / sqrt(var + 1e-8), -clip, clip)` with running statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsNormalizer {
    pub rms: RunningMeanStd,
    pub clip: f64,
    scratch: Vec<f64>,
}

impl ObsNormalizer {
    pub fn new(dim: usize, clip: f64) -> Self {
        Self {
            rms: RunningMeanStd::new(dim),
            clip,
            scratch: Vec::new(),
        }
    }

    /// Adds the rows of `raw` (`[rows * dim]`) to the statistics.
    pub fn update(&mut self, raw: &[f32]) {
        let dim = self.rms.mean.len().max(1);
        self.scratch.clear();
        self.scratch.extend(raw.iter().map(|&x| x as f64));
        let rows = raw.len() / dim;
        let batch = std::mem::take(&mut self.scratch);
        self.rms.update(&batch, rows);
        self.scratch = batch;
    }

    /// Normalises `raw` into `out` row by row with the current statistics.
    pub fn normalize(&self, raw: &[f32], out: &mut [f32]) {
        let dim = self.rms.mean.len().max(1);
        for (k, (&x, slot)) in raw.iter().zip(out.iter_mut()).enumerate() {
            let d = k % dim;
            let z = (x as f64 - self.rms.mean[d]) / (self.rms.var[d] + 1e-8).sqrt();
            *slot = z.clamp(-self.clip, self.clip) as f32;
        }
    }
}

/// Rewards divided by the running std of the discounted return (not mean-subtracted), then
/// clipped; the per-environment return restarts when an episode ends (SB3 `VecNormalize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardScaler {
    pub rms: RunningMeanStd,
    /// Discounted return so far, per environment.
    pub returns: Vec<f64>,
    pub gamma: f64,
    pub clip: f64,
}

impl RewardScaler {
    pub fn new(num_envs: usize, gamma: f64, clip: f64) -> Self {
        Self {
            rms: RunningMeanStd::new(1),
            returns: vec![0.0; num_envs],
            gamma,
            clip,
        }
    }

    /// Scales one step's rewards of all environments in place; `done[i]` restarts env `i`'s
    /// return after its reward has been counted.
    pub fn scale(&mut self, rewards: &mut [f64], done: &[bool]) {
        for (ret, &r) in self.returns.iter_mut().zip(rewards.iter()) {
            *ret = *ret * self.gamma + r;
        }
        let returns = self.returns.clone();
        self.rms.update(&returns, returns.len());
        let std = (self.rms.var[0] + 1e-8).sqrt();
        for r in rewards.iter_mut() {
            *r = (*r / std).clamp(-self.clip, self.clip);
        }
        for (ret, &d) in self.returns.iter_mut().zip(done) {
            if d {
                *ret = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_stats_match_the_two_pass_statistics() {
        let data: Vec<f64> = (0..40)
            .map(|i| ((i * 7919) % 23) as f64 * 0.37 - 2.0)
            .collect();
        let mut rms = RunningMeanStd::new(2);
        for chunk in data.chunks(6) {
            rms.update(chunk, chunk.len() / 2);
        }
        for d in 0..2 {
            let col: Vec<f64> = data.iter().skip(d).step_by(2).copied().collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(
                (rms.mean[d] - mean).abs() < 1e-4,
                "{} vs {mean}",
                rms.mean[d]
            );
            assert!((rms.var[d] - var).abs() < 1e-3, "{} vs {var}", rms.var[d]);
        }
    }
}
