//! `polopt list`: presets, then every registered part, with descriptions and specs.
use std::fmt::Write;

use polopt_methods::credit::ESTIMATORS;
use polopt_methods::objective::{Aggregation, KlEstimator};
use polopt_methods::parts::{PartKind, PARTS};
use polopt_methods::preference::PREFERENCE_LOSSES;
use polopt_methods::presets::PRESETS;
use polopt_methods::RolloutKind;

pub fn listing() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "PRESETS (method.preset)");
    for p in PRESETS {
        // The spec was rebuilt from an abstract or a partial copy of the paper (INDEX.md:
        // CONFIDENCE LOW or [RECON] parts), so the implementation may differ from the paper's.
        let recon = if p.reconstructed {
            " [reconstructed]"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {:<22} {}{}  (spec: {})",
            p.name, p.description, recon, p.spec
        );
    }
    let _ = writeln!(s, "\nADVANTAGE ESTIMATORS (method.credit.estimator)");
    for e in ESTIMATORS {
        let _ = writeln!(s, "  {:<22} {}  (spec: {})", e.name, e.description, e.spec);
    }
    let _ = writeln!(
        s,
        "\nMETHOD PARTS (at most one per slot; a step applies the slots in this order)"
    );
    for kind in PartKind::ALL {
        let _ = writeln!(s, "  {}", kind.slot());
        let _ = writeln!(s, "    {:<20} {}", kind.off(), kind.off_description());
        for p in PARTS.iter().filter(|p| p.kind == kind) {
            let recon = if p.reconstructed {
                " [reconstructed]"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "    {:<20} {}{}  (settings: method.{}.{}; spec: {})",
                p.name,
                p.description,
                recon,
                kind.section(),
                p.table,
                p.spec
            );
        }
    }
    let _ = writeln!(
        s,
        "\nPREFERENCE LOSSES (method.preference.loss; settings: method.preference.<loss>.*)"
    );
    for l in PREFERENCE_LOSSES {
        let _ = writeln!(s, "  {:<22} {}  (spec: {})", l.name, l.description, l.spec);
    }
    let _ = writeln!(s, "\nROLLOUT KINDS (method.rollout.kind)");
    for k in RolloutKind::ALL {
        let _ = writeln!(s, "  {}", k.name());
    }
    let _ = writeln!(s, "\nRATIO LEVELS (method.objective.ratio)");
    let _ = writeln!(
        s,
        "  {:<22} per-token ratio exp(logp - logp_old)  (spec: grpo-family.md)",
        "token"
    );
    let _ = writeln!(
        s,
        "  {:<22} GSPO sequence ratio, geometric mean over tokens  (spec: grpo-family.md)",
        "sequence"
    );
    let _ = writeln!(s, "\nAGGREGATIONS (method.objective.aggregation)");
    for a in Aggregation::ALL {
        let _ = writeln!(s, "  {}", a.name());
    }
    let _ = writeln!(s, "\nKL ESTIMATORS (method.objective.kl_estimator)");
    for k in KlEstimator::ALL {
        let _ = writeln!(s, "  {}", k.name());
    }
    let _ = writeln!(s, "\nSELECTION (method.select)");
    let _ = writeln!(s, "  {:<22} DAPO: drop all-equal groups, refill up to max_gen_batches  (spec: grpo-family.md)", "dynamic_sampling");
    let _ = writeln!(
        s,
        "  {:<22} DAPO overlong reward shaping  (spec: grpo-family.md)",
        "overlong_shaping"
    );
    let _ = writeln!(
        s,
        "  {:<22} mask truncated responses out of the loss  (spec: grpo-family.md)",
        "overlong_filter"
    );
    let _ = writeln!(s, "\nTASKS (task.name)");
    for t in polopt_envs::text::TASK_NAMES {
        let _ = writeln!(s, "  {t}");
    }
    let _ = writeln!(
        s,
        "  (or your own prompts: [data] train = FILE.jsonl|FILE.parquet, docs/own-model.md)"
    );
    let _ = writeln!(
        s,
        "\nAGENT ENVIRONMENTS (task.name; multi-turn episodes, docs/agents.md)"
    );
    for name in polopt_envs::agent::env_names() {
        let _ = writeln!(s, "  {name}");
    }
    let _ = writeln!(
        s,
        "\nREWARDS ([[reward]] name = ..., weight = ...)  (docs/rewards/README.md)"
    );
    for (name, summary) in polopt_train::rewards::reward_names() {
        let _ = writeln!(s, "  {name:<22} {summary}");
    }
    s
}
