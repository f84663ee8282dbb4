//! Inventory networks with exogenous demand (HDPO, `algorithms/hdpo.md`), the f64 reference
//! simulators that the differentiable (tensor) simulators of `polopt-train` are tested against.
//!
//! - [`store`]: one store, backlogged or lost sales; the core step of every benchmark.
//! - [`serial`]: the serial 4-echelon system (Clark–Scarf), echelon-stock policy.
//! - [`warehouse`]: one warehouse feeding `n` stores, lost sales at the stores.
//! - [`scenarios`]: demand traces and initial inventories drawn from seeded streams.
//! - [`optimal`]: the known optima (closed-form base-stock for backlogged demand).
//! - [`clark_scarf`]: the optimal echelon base-stock levels and cost of the serial system.
//! - [`lost_sales_dp`]: exact average-cost DP of the lost-sales store (integer orders).
//! - [`sampling`]: the normal, Poisson and uniform draws the scenarios use.
//!
//! State layout (spec, "Simulator step"): per node a vector `x = (I, p_1, ..., p_{L-1})` of
//! length `L` (the spec's `K = max(inventory_periods, L)` with `inventory_periods <= L`): `I`
//! is on-hand (negative when backlogged), `p_j` arrives `j` periods ahead. An order placed in
//! period `t` is on hand at the start of period `t + L`.
pub mod clark_scarf;
pub mod lost_sales_dp;
pub mod optimal;
pub mod sampling;
pub mod scenarios;
pub mod serial;
pub mod store;
pub mod warehouse;

pub use scenarios::Scenarios;
pub use store::{base_stock_order, store_step, StoreProblem};
