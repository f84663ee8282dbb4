//! polopt-methods
