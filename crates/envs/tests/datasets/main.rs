//! Datasets from files (docs/data.md): JSONL and Parquet loading, bad rows, and the epoch order.
//! Fixtures live in tests/fixtures/data; the Parquet ones and their JSONL twins are written by
//! bench/data_fixtures/make_parquet.py.
mod bad_rows;
mod load;
mod order;

use std::path::{Path, PathBuf};

use polopt_envs::data::{load, DataError, DataReport, FieldMap, OnBadRow};
use polopt_envs::text::Problem;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

pub fn fields(prompt: &str, answer: Option<&str>) -> FieldMap {
    FieldMap {
        prompt: prompt.to_string(),
        answer: answer.map(str::to_string),
    }
}

pub fn load_ok(path: &Path, fields: &FieldMap, on_bad_row: OnBadRow) -> (Vec<Problem>, DataReport) {
    match load(path, fields, on_bad_row) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

pub fn problems(name: &str) -> Vec<Problem> {
    load_ok(&fixture(name), &FieldMap::default(), OnBadRow::Error).0
}

pub fn load_err(path: &Path, fields: &FieldMap, on_bad_row: OnBadRow) -> DataError {
    match load(path, fields, on_bad_row) {
        Ok((p, _)) => panic!(
            "{} should fail, loaded {} problems",
            path.display(),
            p.len()
        ),
        Err(e) => e,
    }
}

/// A file with `contents` under a fresh temporary folder (kept alive by the returned guard).
pub fn temp_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("tempdir: {e}"),
    };
    let path = dir.path().join(name);
    if let Err(e) = std::fs::write(&path, contents) {
        panic!("{}: {e}", path.display());
    }
    (dir, path)
}
