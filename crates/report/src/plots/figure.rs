//! Writing one figure as PNG and SVG: every chart draws itself through [`Figure`] onto either
//! backend, and [`write_figure`] does the files, so the two outputs cannot drift.
use super::{PlotError, PlotFiles};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// A chart that can draw itself on any plotters backend.
pub(super) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

/// Draws `figure` to `{out_stem}.png` and `{out_stem}.svg` at `size` pixels.
pub(super) fn write_figure(
    figure: &impl Figure,
    size: (u32, u32),
    out_stem: &Path,
) -> Result<PlotFiles, PlotError> {
    let png = out_stem.with_extension("png");
    let svg = out_stem.with_extension("svg");
    let draw_err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| PlotError::Draw { path, message }
    };
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        figure.draw(&root).map_err(draw_err(&png))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(draw_err(&png))?;
    }
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, size).into_drawing_area();
        figure.draw(&root).map_err(draw_err(&svg))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(draw_err(&svg))?;
    }
    std::fs::write(&svg, &svg_text).map_err(|source| PlotError::Io {
        path: svg.clone(),
        source,
    })?;
    Ok(PlotFiles { png, svg, svg_text })
}
