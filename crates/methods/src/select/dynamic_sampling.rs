//! DAPO dynamic sampling (arXiv 2503.14476; grpo-family.md "DAPO extras" 2): groups whose
//! rewards are all equal carry zero group-relative advantage, so they are dropped and prompts
//! are sampled again until the batch holds `target_groups` informative groups, at most
//! `max_gen_batches` generation rounds per step (verl `max_num_gen_batches`).

/// A group is informative when its rewards are not all equal (DAPO: 0 < accuracy < 1).
pub fn group_has_signal(rewards: &[f64]) -> bool {
    rewards.windows(2).any(|w| (w[0] - w[1]).abs() > 1e-12)
}

/// The filling state of one training batch across generation rounds.
#[derive(Debug, Clone)]
pub struct BatchFill {
    target_groups: usize,
    max_gen_batches: usize,
    rounds: usize,
    kept: usize,
    dropped: usize,
}

/// What dynamic sampling did in one step, for the metrics line and the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillReport {
    pub kept_groups: usize,
    pub dropped_groups: usize,
    pub gen_batches: usize,
    pub target_groups: usize,
    /// False when the round cap was hit first: the step trains on fewer groups.
    pub filled: bool,
}

impl BatchFill {
    pub fn new(target_groups: usize, max_gen_batches: usize) -> Self {
        Self {
            target_groups,
            max_gen_batches: max_gen_batches.max(1),
            rounds: 0,
            kept: 0,
            dropped: 0,
        }
    }

    /// Takes one generation round's groups (their rewards) and returns which to keep. Keeps
    /// at most what the batch still needs, in order, so the result is deterministic.
    pub fn offer(&mut self, groups: &[Vec<f64>]) -> Vec<bool> {
        self.rounds += 1;
        groups
            .iter()
            .map(|rewards| {
                let keep = self.kept < self.target_groups && group_has_signal(rewards);
                if keep {
                    self.kept += 1;
                } else {
                    self.dropped += 1;
                }
                keep
            })
            .collect()
    }

    /// Records a round taken whole, without the signal filter (dynamic sampling off), so that
    /// the report reads the same with and without it.
    pub fn accept_all(&mut self, groups: usize) {
        self.rounds += 1;
        self.kept += groups;
    }

    pub fn is_full(&self) -> bool {
        self.kept >= self.target_groups
    }

    /// True while another generation round is both needed and allowed.
    pub fn wants_more(&self) -> bool {
        !self.is_full() && self.rounds < self.max_gen_batches
    }

    pub fn remaining(&self) -> usize {
        self.target_groups.saturating_sub(self.kept)
    }

    pub fn report(&self) -> FillReport {
        FillReport {
            kept_groups: self.kept,
            dropped_groups: self.dropped,
            gen_batches: self.rounds,
            target_groups: self.target_groups,
            filled: self.is_full(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_equal_groups_are_dropped_and_the_batch_refills_up_to_the_cap() {
        let mut fill = BatchFill::new(3, 3);
        let keep = fill.offer(&[vec![1.0, 1.0], vec![0.0, 1.0], vec![0.0, 0.0]]);
        assert_eq!(keep, vec![false, true, false]);
        assert!(fill.wants_more());
        fill.offer(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]]);
        assert!(fill.is_full());
        assert!(!fill.wants_more());
        let r = fill.report();
        assert_eq!(
            (r.kept_groups, r.dropped_groups, r.gen_batches, r.filled),
            (3, 3, 2, true)
        );
    }

    #[test]
    fn the_cap_stops_refilling_and_reports_an_unfilled_batch() {
        let mut fill = BatchFill::new(2, 2);
        fill.offer(&[vec![1.0, 1.0]]);
        fill.offer(&[vec![0.0, 0.0]]);
        assert!(!fill.wants_more());
        assert!(!fill.report().filled);
        assert_eq!(fill.remaining(), 2);
    }
}
