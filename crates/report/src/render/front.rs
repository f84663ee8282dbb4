//! The Pareto-front figure of a multi-objective comparison, from each run's
//! `pareto_front.csv` (written by the multi-objective runners: `source,objective_1,objective_2,
//! supported` rows, `archive` for what the run found, `true_front` for the known front).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::plots::{write_front_plot, FrontSeries, FrontSpec};
use crate::runs::Run;

/// The file a multi-objective run writes next to its metrics.
pub const FRONT_FILE: &str = "pareto_front.csv";

/// One run's front file: the archive's points and the true front.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontFile {
    pub archive: Vec<[f64; 2]>,
    pub truth: Vec<[f64; 2]>,
}

/// Reads `pareto_front.csv`; `None` when the run wrote none. A malformed line is an error that
/// names the file and the line.
pub fn read_front(dir: &Path) -> Result<Option<FrontFile>, ReportError> {
    let path = dir.join(FRONT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReportError::Front(format!("{}: {e}", path.display()))),
    };
    let mut file = FrontFile::default();
    for (k, line) in text.lines().enumerate().skip(1) {
        let bad = |why: &str| {
            ReportError::Front(format!(
                "{} line {}: {why}: `{line}`",
                path.display(),
                k + 1
            ))
        };
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() < 3 {
            return Err(bad("expected source,objective_1,objective_2[,supported]"));
        }
        let num = |s: &str| s.trim().parse::<f64>().map_err(|_| bad("not a number"));
        let point = [num(cols[1])?, num(cols[2])?];
        match cols[0] {
            "archive" => file.archive.push(point),
            "true_front" => file.truth.push(point),
            _ => return Err(bad("source must be `archive` or `true_front`")),
        }
    }
    Ok(Some(file))
}

/// One preset's runs: how many wrote a front, and each point with how many found it.
#[derive(Default)]
struct Found {
    seeds: usize,
    count: BTreeMap<(u64, u64), ([f64; 2], usize)>,
}

/// Draws `plots/pareto_front.{png,svg}` under `out` from the runs that wrote a front file, one
/// series per preset in `order` (the share of its seeds that found each point sets the marker
/// size). Returns the PNG's path, or `None` when no run wrote a front.
pub fn write_front_figure(
    runs: &[Run],
    out: &Path,
    order: &[String],
    title: &str,
) -> Result<Option<PathBuf>, ReportError> {
    let mut truth: Vec<[f64; 2]> = Vec::new();
    let mut found: BTreeMap<&str, Found> = BTreeMap::new();
    for run in runs {
        let Some(front) = read_front(&run.dir)? else {
            continue;
        };
        if truth.is_empty() {
            truth = front.truth.clone();
        }
        let entry = found.entry(run.info.preset.as_str()).or_default();
        entry.seeds += 1;
        for p in front.archive {
            // Bit patterns as keys: the runs print the same floats for the same point.
            entry
                .count
                .entry((p[0].to_bits(), p[1].to_bits()))
                .or_insert((p, 0))
                .1 += 1;
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let mut names: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|p| found.contains_key(p))
        .collect();
    names.extend(
        found
            .keys()
            .filter(|p| !names.contains(p))
            .copied()
            .collect::<Vec<_>>(),
    );
    let series: Vec<FrontSeries> = names
        .iter()
        .map(|name| {
            let f = &found[name];
            FrontSeries {
                label: format!("{name} ({} seeds)", f.seeds),
                points: f
                    .count
                    .values()
                    .map(|(p, n)| (*p, *n as f64 / f.seeds as f64))
                    .collect(),
            }
        })
        .collect();
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir)
        .map_err(|e| ReportError::Front(format!("{}: {e}", dir.display())))?;
    let spec = FrontSpec {
        title: title.to_string(),
        x_label: "objective 1".into(),
        y_label: "objective 2".into(),
        size: (900, 600),
    };
    let files = write_front_plot(&series, &truth, &spec, &dir.join("pareto_front"))
        .map_err(|e| ReportError::Front(e.to_string()))?;
    Ok(Some(files.png))
}
