//! polopt-report
