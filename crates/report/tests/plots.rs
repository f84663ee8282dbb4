//! Plot layout under awkward inputs: long names must shrink or shorten, not spill over.

use polopt_report::plots::{write_band_plot, Band, PlotSpec};

fn band(label: &str, offset: f64) -> Band {
    let x: Vec<f64> = (0..50).map(|i| f64::from(i) * 10.0).collect();
    let mean: Vec<f64> = x.iter().map(|v| offset + v / 1000.0).collect();
    Band {
        label: label.to_string(),
        n_seeds: 3,
        lower: mean.iter().map(|m| m - 0.02).collect(),
        upper: mean.iter().map(|m| m + 0.02).collect(),
        x,
        mean,
    }
}

#[test]
fn long_preset_names_are_shortened_in_the_legend_and_long_titles_shrink() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "grpo-with-an-exceedingly-long-preset-name-from-a-sweep-lr3e-6-clip0.28";
    let title = "a_custom_metric_with_a_long_name/that_keeps_going: mean over seeds, 95% \
                 bootstrap CI, smoothed over 12 points";
    let spec = PlotSpec {
        title: title.to_string(),
        x_label: "training step (policy updates)".into(),
        y_label: "a_custom_metric_with_a_long_name/that_keeps_going".into(),
        size: (1100, 620),
        y_bounds: (None, None),
    };
    let files = write_band_plot(
        &[band(long, 0.1), band("dapo", 0.2)],
        &spec,
        &tmp.path().join("long"),
    )
    .unwrap();
    assert!(
        files.svg_text.contains("…"),
        "long label should be shortened"
    );
    assert!(!files.svg_text.contains(long));
    assert!(files.svg_text.contains("dapo (3 seeds)"));
    // Default title size is 22 px (17.74 in plotters' SVG units); this one must be smaller.
    assert!(!files.svg_text.contains("font-size=\"17.741935483870968\""));
    assert!(files.png.is_file() && files.svg.is_file());
    if let Ok(dir) = std::env::var("POLOPT_REPORT_KEEP_PLOTS") {
        std::fs::copy(
            &files.png,
            std::path::Path::new(&dir).join("long_names.png"),
        )
        .unwrap();
    }
}

#[test]
fn a_single_point_and_a_tiny_canvas_still_render() {
    let tmp = tempfile::tempdir().unwrap();
    let one = Band {
        label: "grpo".into(),
        n_seeds: 1,
        x: vec![100.0],
        mean: vec![0.5],
        lower: vec![0.5],
        upper: vec![0.5],
    };
    let spec = PlotSpec {
        title: "t".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        size: (120, 90),
        y_bounds: (None, None),
    };
    write_band_plot(&[one], &spec, &tmp.path().join("tiny")).unwrap();
}
