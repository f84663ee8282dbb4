//! Classic control (filled in by the classic-control work).
