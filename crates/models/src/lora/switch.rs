//! The on/off and train/eval switches of a model's adapters, as methods of [`Transformer`] so
//! that code holding only the model (the reference policy, the sampler) can use them.
use std::sync::atomic::Ordering;

use crate::transformer::Transformer;

/// The adapter switches of a model. The state is shared by the whole model (all its adapters,
/// every caller): do not flip it while another thread runs a forward pass on the same model.
impl Transformer {
    /// Whether LoRA adapters are attached (enabled or not).
    pub fn has_adapters(&self) -> bool {
        self.lora.is_some()
    }

    /// Whether forward passes include the adapters (false when none are attached).
    pub fn adapters_enabled(&self) -> bool {
        self.lora
            .as_ref()
            .is_some_and(|s| s.enabled.load(Ordering::Relaxed))
    }

    /// Turns the adapters on or off for every later forward pass (no-op without adapters).
    pub fn set_adapters_enabled(&self, enabled: bool) {
        if let Some(s) = &self.lora {
            s.enabled.store(enabled, Ordering::Relaxed);
        }
    }

    /// Runs `f` with the adapters off and restores their previous state afterwards (also if
    /// `f` panics): the base model's outputs, e.g. a LoRA run's reference log-probs.
    pub fn without_adapters<R>(&self, f: impl FnOnce(&Transformer) -> R) -> R {
        struct Restore<'a>(&'a Transformer, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set_adapters_enabled(self.1);
            }
        }
        let _restore = Restore(self, self.adapters_enabled());
        self.set_adapters_enabled(false);
        f(self)
    }

    /// Training mode applies the adapters' dropout (`LoraConfig::dropout`); eval mode, the
    /// default, does not. Sampling and behaviour log-probs belong in eval mode.
    pub fn set_adapter_training(&self, training: bool) {
        if let Some(s) = &self.lora {
            s.training.store(training, Ordering::Relaxed);
        }
    }
}
