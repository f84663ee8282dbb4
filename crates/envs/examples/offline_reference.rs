//! Prints the reference returns (§2 protocol) and the calibrated medium ε of every dataset
//! environment, in the form frozen in `offline/reference.rs` and shown in docs/offline-data.md.
//!
//! `cargo run --release -p polopt-envs --example offline_reference`
use polopt_envs::offline::reference::measure_reference;
use polopt_envs::offline::{calibrate_medium_eps, DATASET_ENV_IDS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for id in DATASET_ENV_IDS {
        let ((random, random_sd), (expert, expert_sd)) = measure_reference(id)?;
        println!("{id}: random {random:?} ± {random_sd:?}, expert {expert:?} ± {expert_sd:?}");
        match calibrate_medium_eps(id) {
            Ok((eps, score)) => println!("  medium eps {eps} (score {score:.2})"),
            Err(e) => println!("  medium: {e}"),
        }
    }
    Ok(())
}
