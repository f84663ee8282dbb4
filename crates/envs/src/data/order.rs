//! Which rows each training batch takes: every epoch a fresh permutation of all rows, from a
//! cursor small enough to store in a checkpoint.
use std::ops::Range;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::DataError;
use crate::text::draw::shuffle;

/// A shuffled, epoch-by-epoch walk over the rows `0..len` of a dataset.
///
/// Epoch `e`'s order is [`DataOrder::epoch_order`]`(len, seed, e)`: a function of those three
/// numbers only, so the serialized cursor (`len`, `seed`, `epoch`, `position`) is the whole
/// state, and a run resumed from it takes exactly the batches an uninterrupted run would.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "OrderState", into = "OrderState")]
pub struct DataOrder {
    state: OrderState,
    /// Epoch `state.epoch`'s permutation, rebuilt from the state when needed; never serialized.
    order: Vec<usize>,
}

/// The serialized form; [`DataOrder`] checks it on the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderState {
    len: usize,
    seed: u64,
    epoch: u64,
    /// Rows of the current epoch already handed out; always below `len`.
    position: usize,
}

impl PartialEq for DataOrder {
    fn eq(&self, other: &Self) -> bool {
        self.state == other.state
    }
}

impl Eq for DataOrder {}

impl TryFrom<OrderState> for DataOrder {
    type Error = DataError;

    fn try_from(state: OrderState) -> Result<Self, DataError> {
        if state.len == 0 {
            return Err(invalid("a data order needs at least one row".to_string()));
        }
        if state.position >= state.len {
            return Err(invalid(format!(
                "position {} is past the end of a {}-row epoch",
                state.position, state.len
            )));
        }
        Ok(DataOrder {
            order: DataOrder::epoch_order(state.len, state.seed, state.epoch),
            state,
        })
    }
}

impl From<DataOrder> for OrderState {
    fn from(order: DataOrder) -> Self {
        order.state
    }
}

fn invalid(message: String) -> DataError {
    DataError::InvalidOrder { message }
}

impl DataOrder {
    /// The start of epoch 0 over `len` rows; `len = 0` is an error, as no batch could be filled.
    pub fn new(len: usize, seed: u64) -> Result<DataOrder, DataError> {
        DataOrder::try_from(OrderState {
            len,
            seed,
            epoch: 0,
            position: 0,
        })
    }

    /// The row order of `epoch`: Fisher–Yates ([`shuffle`]) over `0..len`, drawing from
    /// `ChaCha8Rng::seed_from_u64(seed)` on stream `epoch`. Streams are independent, so epochs
    /// neither repeat nor depend on one another, and any epoch can be rebuilt without the
    /// ones before it. Changing this is a data-order version bump: the golden test says so.
    pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        let mut order: Vec<usize> = (0..len).collect();
        shuffle(&mut rng, &mut order);
        order
    }

    /// The next `n` row indices. A batch that runs past the end of an epoch finishes it and
    /// goes on into the next one, so every epoch hands out every row exactly once.
    pub fn next_batch(&mut self, n: usize) -> Vec<usize> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            let s = &mut self.state;
            let take = (n - batch.len()).min(s.len - s.position);
            batch.extend_from_slice(&self.order[s.position..s.position + take]);
            s.position += take;
            if s.position == s.len {
                s.epoch += 1;
                s.position = 0;
                self.order = DataOrder::epoch_order(s.len, s.seed, s.epoch);
            }
        }
        batch
    }

    /// Checks, on resume, that the dataset still has the length this order was made for: with
    /// another length the stored cursor would point at other rows than it did.
    pub fn check_len(&self, len: usize) -> Result<(), DataError> {
        if len == self.state.len {
            Ok(())
        } else {
            Err(invalid(format!(
                "the saved order is for {} rows but the dataset now has {len}; the data changed \
                 since the run started",
                self.state.len
            )))
        }
    }

    pub fn len(&self) -> usize {
        self.state.len
    }

    /// Always false: an order has at least one row (clippy wants the pair with `len`).
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn seed(&self) -> u64 {
        self.state.seed
    }

    /// Epochs completed so far (0 during the first one).
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }

    /// Rows of the current epoch already handed out, in `0..len`.
    pub fn position(&self) -> usize {
        self.state.position
    }

    /// Rows handed out since the start, across epochs.
    pub fn rows_served(&self) -> u64 {
        let s = &self.state;
        s.epoch
            .saturating_mul(s.len as u64)
            .saturating_add(s.position as u64)
    }
}

/// The rows `0..len` in file order, in batches of `batch` (the last one shorter), for eval sets
/// that must be scored whole and in a fixed order. `batch = 0` is taken as 1.
#[derive(Debug, Clone)]
pub struct InOrder {
    len: usize,
    batch: usize,
    next: usize,
}

impl InOrder {
    pub fn new(len: usize, batch: usize) -> InOrder {
        InOrder {
            len,
            batch: batch.max(1),
            next: 0,
        }
    }
}

impl Iterator for InOrder {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.next >= self.len {
            return None;
        }
        let start = self.next;
        self.next = (start + self.batch).min(self.len);
        Some(start..self.next)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.len - self.next.min(self.len)).div_ceil(self.batch);
        (left, Some(left))
    }
}

impl ExactSizeIterator for InOrder {}
