//! How the sampler runs each decode step (issue 19): stop checks every N tokens, and the
//! step in CUDA-graph shape — a long-lived KV cache per batch-size bucket, static input
//! buffers, attention over the whole buffer — captured once per bucket and replayed.
//!
//! The graph-shaped step also runs eagerly (`static_step`), which is how CPU tests check that
//! it computes what the ordinary step computes; only capture and replay need a GPU.
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::cuda_graph::{self, CudaGraph};
use crate::error::ModelError;
use crate::kv_cache::KvCache;
use crate::transformer::Transformer;

/// `model.cuda_graphs`: whether decode steps run as a replayed CUDA graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CudaGraphs {
    /// On CUDA devices, when this build has the shim and the model no LoRA adapters.
    #[default]
    Auto,
    /// Always try (a CPU run falls back and reports why).
    On,
    Off,
}

impl CudaGraphs {
    pub fn parse(value: &str) -> Result<Self, ModelError> {
        match value {
            "auto" => Ok(CudaGraphs::Auto),
            "on" | "true" => Ok(CudaGraphs::On),
            "off" | "false" => Ok(CudaGraphs::Off),
            other => Err(ModelError::config(
                "model.cuda_graphs",
                format!("must be \"auto\", \"on\" or \"off\", got {other:?}"),
            )),
        }
    }
}

/// Sampler settings that change how, not what, it computes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecodeOptions {
    /// `model.stop_check_every`: steps between host checks of "has every row ended?" (each is
    /// a device-to-host sync). 0 = auto: 1 on CPU, where the check costs nothing and the
    /// sampler draws exactly as before; 8 on CUDA, where a sync stalls the launch queue. With
    /// N > 1 the batch may run up to N - 1 extra steps whose columns are cut off again, so
    /// the rollout is the same, but the extra draws advance libtorch's generator.
    pub stop_check_every: i64,
    pub cuda_graphs: CudaGraphs,
    /// Run the graph-shaped step even without a graph (tests; measuring the graph's gain).
    pub static_step: bool,
}

impl DecodeOptions {
    pub fn stop_check_every_on(&self, device: Device) -> i64 {
        match self.stop_check_every {
            n if n > 0 => n,
            _ if device.is_cuda() => 8,
            _ => 1,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        if self.stop_check_every < 0 {
            return Err(ModelError::config(
                "model.stop_check_every",
                format!("must be >= 0 (0 = auto), got {}", self.stop_check_every),
            ));
        }
        Ok(())
    }
}

/// What the last [`crate::generate`] call did, for metrics (`gen/cuda_graphs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeReport {
    /// Decode steps ran as replays of a captured graph.
    pub cuda_graphs: bool,
    /// The graph-shaped step ran (replayed or eagerly).
    pub static_step: bool,
    /// Why graphs were not used although `cuda_graphs` asked for them (auto on CUDA, or on).
    pub fallback: Option<String>,
    /// Graphs captured and replays run by that call.
    pub captures: u64,
    pub replays: u64,
}

/// Long-lived graph-shaped steps, one per `(batch, capacity)` bucket, and the last report.
#[derive(Default)]
pub(crate) struct GraphCache {
    steps: Vec<StaticStep>,
    pub(crate) last: DecodeReport,
}

/// At most this many buckets keep their buffers (and graphs) alive.
const MAX_BUCKETS: usize = 4;

/// Capacities are rounded up to a multiple of this, so that prompts of similar lengths share
/// one bucket (and one graph); the extra slots are masked out.
const CAPACITY_STEP: i64 = 64;

impl GraphCache {
    pub(crate) fn clear(&mut self) {
        self.steps.clear();
    }

    fn take(&mut self, batch: i64, capacity: i64) -> Option<StaticStep> {
        let i = self
            .steps
            .iter()
            .position(|s| s.batch == batch && s.capacity == capacity)?;
        Some(self.steps.remove(i))
    }

    fn put(&mut self, step: StaticStep) {
        if self.steps.len() >= MAX_BUCKETS {
            self.steps.remove(0);
        }
        self.steps.push(step);
    }
}

/// The decode step with static shapes and inputs.
pub(crate) struct StaticStep {
    batch: i64,
    capacity: i64,
    cache: KvCache,
    /// `[B, 1]` i64 inputs, `[1]` i64 slot, `[B, capacity]` bool real keys, `[capacity]` i64.
    tokens: Tensor,
    positions: Tensor,
    slot: Tensor,
    key_real: Tensor,
    slots: Tensor,
    graph: Option<(CudaGraph, u64)>,
    /// The captured step's logits `[B, V]`, rewritten by each replay.
    output: Option<Tensor>,
    failure: Option<String>,
}

impl StaticStep {
    fn new(model: &Transformer, batch: i64, capacity: i64) -> Self {
        let device = model.device();
        let i64s = (Kind::Int64, device);
        StaticStep {
            batch,
            capacity,
            cache: KvCache::new(model.config(), batch, capacity, model.kind(), device),
            tokens: Tensor::zeros([batch, 1], i64s),
            positions: Tensor::zeros([batch, 1], i64s),
            slot: Tensor::zeros([1], i64s),
            key_real: Tensor::ones([batch, capacity], (Kind::Bool, device)),
            slots: Tensor::arange(capacity, i64s),
            graph: None,
            output: None,
            failure: None,
        }
    }

    /// Logits `[B, V]` of the tokens in the input buffers, their keys and values written at
    /// the slot in `slot`.
    fn compute(&mut self, model: &Transformer) -> Tensor {
        let mask = self
            .key_real
            .logical_and(&self.slots.le_tensor(&self.slot))
            .view([self.batch, 1, 1, self.capacity]);
        let hidden = model.forward_static(
            &self.tokens,
            &self.positions,
            &mask,
            &mut self.cache,
            &self.slot,
        );
        model.logits(&hidden.squeeze_dim(1))
    }
}

/// The per-call decoder the sampler drives: the ordinary cached forward, or the static step.
pub(crate) enum Engine {
    Dynamic {
        cache: KvCache,
        /// `[B, P + max_new]` bool: which slots hold real tokens.
        key_real: Tensor,
    },
    Static {
        step: Box<StaticStep>,
        graphs: bool,
        generation: u64,
        report: DecodeReport,
    },
}

impl Engine {
    /// Chooses the path for `model`'s options and device and loads the prefilled `cache`.
    pub(crate) fn start(model: &Transformer, cache: KvCache, key_real: Tensor) -> Engine {
        let options = model.decode_options();
        let device = model.device();
        let wanted = match options.cuda_graphs {
            CudaGraphs::On => true,
            CudaGraphs::Off => false,
            CudaGraphs::Auto => device.is_cuda(),
        };
        let fallback = wanted.then(|| unavailable(model)).flatten();
        let graphs = wanted && fallback.is_none();
        let report = DecodeReport {
            fallback,
            ..DecodeReport::default()
        };
        if !(graphs || options.static_step) {
            set_report(model, report);
            return Engine::Dynamic { cache, key_real };
        }
        let generation = model.ensure_fused();
        let batch = cache.batch();
        let width = key_real.size()[1];
        let capacity = (width + CAPACITY_STEP - 1) / CAPACITY_STEP * CAPACITY_STEP;
        let cached = model
            .graphs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(batch, capacity);
        let mut step = Box::new(cached.unwrap_or_else(|| StaticStep::new(model, batch, capacity)));
        step.cache.load_prefix(&cache, None);
        let _ = step.key_real.fill_(1);
        step.key_real.narrow(1, 0, width).copy_(&key_real);
        Engine::Static {
            step,
            graphs,
            generation,
            report: DecodeReport {
                static_step: true,
                ..report
            },
        }
    }

    /// Logits `[B, V]` after feeding `input: [B, 1]` at `positions: [B, 1]` into slot `slot`.
    pub(crate) fn step(
        &mut self,
        model: &Transformer,
        input: &Tensor,
        positions: &Tensor,
        slot: i64,
    ) -> Tensor {
        match self {
            Engine::Dynamic { cache, key_real } => {
                let b = input.size()[0];
                let slots = slot + 1;
                let mask = key_real.narrow(1, 0, slots).view([b, 1, 1, slots]);
                let hidden = model.forward_cached(input, positions, &mask, cache);
                model.logits(&hidden.squeeze_dim(1))
            }
            Engine::Static {
                step,
                graphs,
                generation,
                report,
            } => {
                step.tokens.copy_(input);
                step.positions.copy_(positions);
                let _ = step.slot.fill_(slot);
                if *graphs {
                    if let Some(logits) = replay(step, model, *generation, report) {
                        return logits;
                    }
                    *graphs = false;
                }
                step.compute(model)
            }
        }
    }

    /// Puts the static step back into the model's cache and records the report.
    pub(crate) fn finish(self, model: &Transformer) {
        if let Engine::Static {
            step, mut report, ..
        } = self
        {
            report.cuda_graphs = report.replays > 0 && report.fallback.is_none();
            let mut cache = model
                .graphs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            cache.put(*step);
            cache.last = report;
        }
    }
}

/// Replays the bucket's graph, capturing it first if needed; `None` (with the reason in the
/// report) when capture or replay fails, after which the step runs eagerly.
fn replay(
    step: &mut StaticStep,
    model: &Transformer,
    generation: u64,
    report: &mut DecodeReport,
) -> Option<Tensor> {
    if let Some(why) = &step.failure {
        report.fallback = Some(why.clone());
        return None;
    }
    // Weights that moved since capture (a rebuilt fused buffer) invalidate the graph.
    if step.graph.as_ref().is_some_and(|(_, g)| *g != generation) {
        step.graph = None;
        step.output = None;
    }
    if step.graph.is_none() {
        let mut output = None;
        let captured = CudaGraph::capture(&mut || {
            output = Some(step.compute(model));
            Ok(())
        });
        match captured {
            Ok(graph) => {
                step.graph = Some((graph, generation));
                step.output = output;
                report.captures += 1;
            }
            Err(why) => {
                step.failure = Some(why.clone());
                report.fallback = Some(why);
                return None;
            }
        }
    }
    let (graph, _) = step.graph.as_ref()?;
    if let Err(why) = graph.replay() {
        step.failure = Some(why.clone());
        step.graph = None;
        report.fallback = Some(why);
        return None;
    }
    report.replays += 1;
    step.output.as_ref().map(Tensor::shallow_clone)
}

/// Why `model` cannot decode through a CUDA graph, if it cannot.
fn unavailable(model: &Transformer) -> Option<String> {
    if !cuda_graph::shim_built() {
        return Some(cuda_graph::NOT_BUILT.into());
    }
    if !model.device().is_cuda() {
        return Some(format!(
            "CUDA graphs need a CUDA device; the model is on {:?}",
            model.device()
        ));
    }
    if model.lora.is_some() {
        // The adapters' on/off switch and dropout are host-side decisions a graph would freeze.
        return Some("CUDA graphs are not used with LoRA adapters attached".into());
    }
    None
}

fn set_report(model: &Transformer, report: DecodeReport) {
    model
        .graphs
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .last = report;
}

impl Transformer {
    /// What the last sampling call did about CUDA graphs and the static step.
    pub fn last_decode_report(&self) -> DecodeReport {
        self.graphs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last
            .clone()
    }
}
