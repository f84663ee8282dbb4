//! Verifiable text tasks (filled in by the text-task work).
