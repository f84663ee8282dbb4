//! polopt-train
