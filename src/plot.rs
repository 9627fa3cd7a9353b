//! PNG figures (line/step/scatter panels, IQR spreads, heatmaps, bar charts)
//! drawn with plotters and written atomically.
//!
//! Every renderer draws into a hidden temporary `.png` next to the target,
//! then syncs and renames it over the target (see [`crate::output`]), so a
//! figure is either complete or absent. The output is always PNG, whatever
//! the target's extension. All text uses the bundled DejaVu Sans, registered
//! as the plotters family `"sans-serif"`. Non-finite values are skipped (lines
//! break at them); only structurally impossible input (ragged heatmap rows,
//! label/value count mismatch, zero sizes, absurdly large images) is an error.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, ensure, Context, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::DrawingErrorKind;
use plotters_bitmap::BitMapBackendError;

use crate::output::{commit_temp, fmt_f, temp_path_for};

const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const MAX_PIXELS: u64 = 80_000_000;
const GRID: RGBColor = RGBColor(225, 225, 225);
const GREY: RGBColor = RGBColor(90, 90, 90);
const NAN_CELL: RGBColor = RGBColor(200, 200, 200);
const TAB10: [u32; 10] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22,
    0x17becf,
];
const VIRIDIS: [u32; 9] = [
    0x440154, 0x472c7a, 0x3b518b, 0x2c718e, 0x21908d, 0x27ad81, 0x5cc863, 0xaadc32, 0xfde725,
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type P = (f64, f64);

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesKind {
    /// Straight segments between consecutive points.
    #[default]
    Line,
    /// Piecewise constant: each y is held until the next point's x.
    Step,
    /// Markers only.
    Points,
    /// Segments and markers.
    LinePoints,
}

/// One data series of a [`Panel`]; shown in the legend when `name` is non-empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend label (empty: not in the legend).
    pub name: String,
    /// `(x, y)` points in drawing order; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub kind: SeriesKind,
}

/// Median line with markers and vertical inter-quartile bars (`q1..q3`) at each `x`.
/// All four vectors must have the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpreadSeries {
    /// Legend label (empty: not in the legend).
    pub name: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Medians (line and markers).
    pub median: Vec<f64>,
    /// First quartiles (bar bottoms).
    pub q1: Vec<f64>,
    /// Third quartiles (bar tops).
    pub q3: Vec<f64>,
}

/// One x/y chart. Colours follow [`palette`]: `series` first, then `spreads`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Caption above the chart (empty: none).
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// Line / step / point series.
    pub series: Vec<Series>,
    /// Median + IQR series.
    pub spreads: Vec<SpreadSeries>,
    /// Fixed x range (data outside is clipped); `None` or invalid: data range + 5 %.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range; `None` or invalid (or `lo <= 0` with `log_y`): automatic.
    pub y_range: Option<(f64, f64)>,
    /// Logarithmic y axis: values `<= 0` are skipped and the range is widened
    /// to contain at least one power of ten.
    pub log_y: bool,
    /// Dashed horizontal reference lines `(y, label)`, labelled at the left end.
    pub hlines: Vec<(f64, String)>,
}

/// A colour-mapped matrix (`data[row][col]`, row 0 at the top).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heatmap {
    /// Caption.
    pub title: String,
    /// Description under the column labels.
    pub x_label: String,
    /// Description left of the row labels.
    pub y_label: String,
    /// Rows of equal length; non-finite cells are drawn grey.
    pub data: Vec<Vec<f64>>,
    /// One label per row, or empty for `0, 1, …`.
    pub row_labels: Vec<String>,
    /// One label per column, or empty for `0, 1, …`.
    pub col_labels: Vec<String>,
    /// Colour-scale limits (values outside are clamped); `None`: data min/max.
    pub range: Option<(f64, f64)>,
    /// Colour bar description.
    pub colorbar_label: String,
    /// Print each value in its cell (only with cells of 16 px or more, when the text fits).
    pub annotate: bool,
}

/// A bar chart with one bar per category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bars {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// Bar labels: one per value, or empty for `0, 1, …`.
    pub categories: Vec<String>,
    /// Bar heights (non-finite values: no bar).
    pub values: Vec<f64>,
}

/// Colour `i` of the fixed series palette (matplotlib's `tab10`, cycling).
pub fn palette(i: usize) -> RGBColor {
    hex(TAB10[i % TAB10.len()])
}

fn hex(c: u32) -> RGBColor {
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// Viridis-like colour for `t` in `[0, 1]` (clamped; NaN gives grey).
pub fn viridis(t: f64) -> RGBColor {
    if t.is_nan() {
        return NAN_CELL;
    }
    let x = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let (a, b, f) = (hex(VIRIDIS[i]), hex(VIRIDIS[i + 1]), x - i as f64);
    let mix = |p: u8, q: u8| (f64::from(p) + f * (f64::from(q) - f64::from(p))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn ensure_font() -> Result<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    ensure!(ok, "bundled font assets/DejaVuSans.ttf could not be loaded");
    Ok(())
}

fn style(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

fn anchored(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    style(size).pos(Pos::new(h, v))
}

fn text_w(s: &str, size: f64) -> u32 {
    (FONT, size).into_font().box_size(s).map_or(0, |b| b.0)
}

/// Renders `size` pixels with `draw` into a temp PNG, then renames it over `path`.
fn render_png(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<()> {
    ensure_font()?;
    let (w, h, at) = (size.0, size.1, path.display());
    ensure!(w > 0 && h > 0, "{at}: empty image size {w}x{h}");
    let px = u64::from(w) * u64::from(h);
    ensure!(
        px <= MAX_PIXELS,
        "{at}: image of {w}x{h} pixels is too large"
    );
    let hint = "name a .png file in a folder that exists and is writable";
    ensure!(
        !path.is_dir(),
        "{at}: cannot write the figure: is a folder — hint: {hint}"
    );
    let (tmp, dir) = temp_path_for(path, ".png")?;
    let res = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!(drawing_error(e)))?;
        draw(&root)?;
        root.present().map_err(|e| {
            anyhow!(
                "cannot write the figure: {} — hint: {hint}",
                drawing_error(e)
            )
        })?;
        Ok(())
    }))
    .unwrap_or_else(|_| Err(anyhow!("plotting code panicked")));
    match res {
        Ok(()) => commit_temp(&tmp, &dir, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("{at}")))
        }
    }
}

/// A drawing error as a sentence: the I/O or encoding cause, not the backend's debug text.
fn drawing_error(e: DrawingAreaErrorKind<BitMapBackendError>) -> String {
    match e {
        DrawingAreaErrorKind::BackendError(DrawingErrorKind::DrawingError(b)) => match b {
            BitMapBackendError::IOError(io) => io.to_string(),
            BitMapBackendError::ImageError(img) => img.to_string(),
            BitMapBackendError::InvalidBuffer => "the pixel buffer has the wrong size".into(),
        },
        DrawingAreaErrorKind::BackendError(DrawingErrorKind::FontError(f)) => {
            format!("font error: {f}")
        }
        DrawingAreaErrorKind::SharingError => "the drawing area is shared".into(),
        DrawingAreaErrorKind::LayoutError => "the figure's layout does not fit".into(),
    }
}

/// Finite and not absurdly large (plotters' arithmetic must not overflow).
fn ok(v: f64) -> bool {
    v.is_finite() && v.abs() <= 1e300
}

/// Min/max of the valid values, widened when degenerate; `(0, 1)` if none.
fn data_range(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let init = (f64::INFINITY, f64::NEG_INFINITY);
    let (lo, hi) = vals
        .filter(|v| ok(*v))
        .fold(init, |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo <= 1e-9 * lo.abs().max(hi.abs()) || hi - lo < 1e-290 {
        let d = match (log, lo == 0.0) {
            (true, _) => 0.5,
            (false, true) => 1.0,
            (false, false) => lo.abs() * 0.1,
        };
        (lo - d, hi + d)
    } else {
        (lo, hi)
    }
}

/// [`data_range`] with 5 % padding on both sides.
fn auto_range(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = data_range(vals, log);
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Validates a user range (sorted, finite, non-degenerate) in plot space.
fn user_range(r: Option<(f64, f64)>, log: bool) -> Option<(f64, f64)> {
    let (a, b) = r?;
    let (a, b) = (fwd(a, log), fwd(b, log));
    let (lo, hi) = (a.min(b), a.max(b));
    (ok(lo) && ok(hi) && hi - lo > 1e-9 * lo.abs().max(hi.abs())).then_some((lo, hi))
}

/// Tick formatter for a linear axis spanning `lo..hi` with about `n` ticks.
fn tick_fmt(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    let step = ((hi - lo).abs() / n.max(1) as f64).max(1e-300);
    let p = step.log10().floor() as i64;
    move |v: &f64| {
        if v.abs() < step * 1e-6 {
            return "0".into();
        }
        let sig = v.abs().log10().floor() as i64 - p + 2;
        fmt_f(*v, sig.clamp(1, 8) as usize)
    }
}

/// "Nice" tick values (1-2-5 steps) inside `lo..=hi`, and the step.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let ticks = (first..)
        .map(|k| k as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9);
    (ticks.take(50).collect(), step)
}

/// Data y to plot space (log10 for log axes; NaN when not representable).
fn fwd(y: f64, log: bool) -> f64 {
    match (log, y > 0.0) {
        (false, _) => y,
        (true, true) => y.log10(),
        (true, false) => f64::NAN,
    }
}

fn back((x, y): P, log: bool) -> P {
    (x, if log { 10f64.powf(y) } else { y })
}

fn inside(p: P, bx: [f64; 4]) -> bool {
    p.0 >= bx[0] && p.0 <= bx[1] && p.1 >= bx[2] && p.1 <= bx[3]
}

/// Splits points into runs of valid plot-space points.
fn runs(pts: impl IntoIterator<Item = P>, log: bool) -> Vec<Vec<P>> {
    let mut out = vec![Vec::new()];
    for (x, y) in pts {
        let y = fwd(y, log);
        if ok(x) && ok(y) {
            out.last_mut().unwrap().push((x, y));
        } else if !out.last().unwrap().is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Inserts the corner points of a piecewise-constant curve.
fn step_points(pts: &[P]) -> Vec<P> {
    let mut out = Vec::with_capacity(pts.len() * 2);
    for (i, &(x, y)) in pts.iter().enumerate() {
        out.push((x, y));
        match pts.get(i + 1) {
            Some(&(nx, _)) if ok(x) && ok(y) && ok(nx) => out.push((nx, y)),
            _ => {}
        }
    }
    out
}

/// Liang–Barsky clipping of segment `a-b` to the box; `None` if outside.
fn clip_seg(a: P, b: P, bx: [f64; 4]) -> Option<(P, P)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - bx[0]),
        (dx, bx[1] - a.0),
        (-dy, a.1 - bx[2]),
        (dy, bx[3] - a.1),
    ] {
        if p == 0.0 && q < 0.0 {
            return None;
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else if p > 0.0 {
            t1 = t1.min(q / p);
        }
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    (t0 <= t1).then(|| (at(t0), at(t1)))
}

/// A series or spread in plot space, ready to draw.
struct Layer<'a> {
    name: &'a str,
    runs: Vec<Vec<P>>,
    line: bool,
    dots: bool,
    bars: Vec<(P, P)>,
}

fn layers(p: &Panel) -> Vec<Layer<'_>> {
    let log = p.log_y;
    let mut out: Vec<Layer> = p
        .series
        .iter()
        .map(|s| Layer {
            name: &s.name,
            runs: match s.kind {
                SeriesKind::Step => runs(step_points(&s.points), log),
                _ => runs(s.points.iter().copied(), log),
            },
            line: s.kind != SeriesKind::Points,
            dots: matches!(s.kind, SeriesKind::Points | SeriesKind::LinePoints),
            bars: vec![],
        })
        .collect();
    for s in &p.spreads {
        let med = s.x.iter().copied().zip(s.median.iter().copied());
        let bar = |i: usize| {
            let (x, a, b) = (s.x[i], fwd(s.q1[i], log), fwd(s.q3[i], log));
            (ok(x) && ok(a) && ok(b)).then_some(((x, a), (x, b)))
        };
        let bars = (0..s.x.len()).filter_map(bar).collect();
        out.push(Layer {
            name: &s.name,
            runs: runs(med, log),
            line: true,
            dots: true,
            bars,
        });
    }
    out
}

/// The legend corner covering the fewest data points.
fn legend_corner(pts: impl Iterator<Item = P>, bx: [f64; 4]) -> SeriesLabelPosition {
    let mut n = [0usize; 4];
    for (x, y) in pts {
        let (fx, fy) = ((x - bx[0]) / (bx[1] - bx[0]), (y - bx[2]) / (bx[3] - bx[2]));
        let (r, l, t, b) = (fx > 0.6, fx < 0.4, fy > 0.65, fy < 0.35);
        for (i, hit) in [t && r, t && l, b && r, b && l].into_iter().enumerate() {
            n[i] += usize::from(hit);
        }
    }
    let best = (0..4).min_by_key(|&i| (n[i], i)).unwrap_or(0);
    use SeriesLabelPosition::*;
    [UpperRight, UpperLeft, LowerRight, LowerLeft][best].clone()
}

/// Renders `panels` as a grid with `cols` columns (clamped to `1..=panels.len()`),
/// each `panel_size` pixels, into one PNG at `path` (written atomically).
pub fn render_panels(
    path: &Path,
    panels: &[Panel],
    cols: usize,
    panel_size: (u32, u32),
) -> Result<()> {
    ensure!(
        !panels.is_empty(),
        "{}: no panels to render",
        path.display()
    );
    for s in panels.iter().flat_map(|p| &p.spreads) {
        let n = s.x.len();
        let same = s.median.len() == n && s.q1.len() == n && s.q3.len() == n;
        ensure!(
            same,
            "spread series {:?}: x, median, q1 and q3 lengths differ",
            s.name
        );
    }
    let cols = cols.clamp(1, panels.len());
    let rows = panels.len().div_ceil(cols);
    let size = (
        panel_size.0.saturating_mul(cols as u32),
        panel_size.1.saturating_mul(rows as u32),
    );
    render_png(path, size, |root| {
        for (area, p) in root.split_evenly((rows, cols)).iter().zip(panels) {
            draw_panel(area, p).with_context(|| format!("panel {:?}", p.title))?;
        }
        Ok(())
    })
}

struct Ctx<'a> {
    layers: &'a [Layer<'a>],
    hl: &'a [(f64, &'a str)],
    bx: [f64; 4],
    log: bool,
    has_data: bool,
    xf: &'a dyn Fn(&f64) -> String,
    yf: &'a dyn Fn(&f64) -> String,
    corner: SeriesLabelPosition,
    narrow_log: bool,
}

fn draw_panel(area: &Area, p: &Panel) -> Result<()> {
    let (log, layers) = (p.log_y, layers(p));
    let all = || {
        let bars = |l: &'_ Layer| l.bars.iter().flat_map(|b| [b.0, b.1]).collect::<Vec<_>>();
        layers
            .iter()
            .flat_map(move |l| l.runs.iter().flatten().copied().chain(bars(l)))
    };
    let hl: Vec<(f64, &str)> = p
        .hlines
        .iter()
        .map(|(y, l)| (fwd(*y, log), l.as_str()))
        .collect();
    let hl: Vec<(f64, &str)> = hl.into_iter().filter(|h| ok(h.0)).collect();
    let xr = user_range(p.x_range, false).unwrap_or_else(|| auto_range(all().map(|q| q.0), false));
    let mut yr = user_range(p.y_range, log)
        .unwrap_or_else(|| auto_range(all().map(|q| q.1).chain(hl.iter().map(|h| h.0)), log));
    if log && yr.1.floor() < yr.0.ceil() {
        yr.0 = yr.0.floor();
    }
    let bx = [xr.0, xr.1, yr.0, yr.1];
    let xf = tick_fmt(xr.0, xr.1, 8);
    // Narrow log ranges get 1-2-5 labels between the decades (plotters'
    // denser log ticks, the others left unlabelled).
    let narrow = log && yr.1 - yr.0 < 2.0;
    let yf: Box<dyn Fn(&f64) -> String> = if log {
        Box::new(move |v: &f64| {
            let m = v / 10f64.powf(v.log10().floor());
            let show = !narrow || [1.0, 2.0, 5.0, 10.0].iter().any(|k| (m - k).abs() < 1e-6);
            if show {
                fmt_f(*v, 3)
            } else {
                String::new()
            }
        })
    } else {
        Box::new(tick_fmt(yr.0, yr.1, 6))
    };
    let ticks = [yr.0, (yr.0 + yr.1) / 2.0, yr.1].map(|v| yf(&back((0.0, v), log).1));
    let tick_w = ticks.iter().map(|t| text_w(t, 12.0)).max().unwrap_or(0);
    let mut cb = ChartBuilder::on(area);
    cb.margin(10)
        .x_label_area_size(if p.x_label.is_empty() { 24 } else { 44 });
    cb.y_label_area_size(tick_w + 14 + if p.y_label.is_empty() { 0 } else { 22 });
    if !p.title.is_empty() {
        cb.caption(&p.title, style(17.0));
    }
    let mids = layers
        .iter()
        .flat_map(|l| &l.runs)
        .flat_map(|r| r.windows(2));
    let mids = mids.map(|w| ((w[0].0 + w[1].0) / 2.0, (w[0].1 + w[1].1) / 2.0));
    let corner = legend_corner(all().chain(mids), bx);
    let has_data = all().next().is_some();
    let c = Ctx {
        layers: &layers,
        hl: &hl,
        bx,
        log,
        has_data,
        xf: &xf,
        yf: &*yf,
        corner,
        narrow_log: narrow,
    };
    if log {
        let (a, b) = (10f64.powf(yr.0), 10f64.powf(yr.1));
        draw_chart(cb, p, &c, (a..b).log_scale())
    } else {
        draw_chart(cb, p, &c, yr.0..yr.1)
    }
}

fn draw_chart<Y>(
    mut cb: ChartBuilder<'_, '_, BitMapBackend<'_>>,
    p: &Panel,
    c: &Ctx,
    y: Y,
) -> Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let (bx, log) = (c.bx, c.log);
    let mut chart = cb.build_cartesian_2d(bx[0]..bx[1], y)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_labels(8)
        .y_labels(if c.narrow_log { 20 } else { 6 });
    mesh.label_style(style(12.0)).axis_desc_style(style(14.0));
    mesh.x_label_formatter(c.xf).y_label_formatter(c.yf);
    mesh.bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .draw()?;
    for &(y, label) in c.hl.iter().filter(|h| h.0 >= bx[2] && h.0 <= bx[3]) {
        let ends = [back((bx[0], y), log), back((bx[1], y), log)];
        chart.draw_series(DashedLineSeries::new(ends, 6, 4, GREY.into()))?;
        let st = anchored(11.0, HPos::Left, VPos::Bottom).color(&GREY);
        chart
            .draw_series([EmptyElement::at(ends[0]) + Text::new(label.to_string(), (4, -2), st)])?;
    }
    for (i, l) in c.layers.iter().enumerate() {
        let col = palette(i);
        for &(a, b) in &l.bars {
            let Some((s, e)) = clip_seg(a, b, bx) else {
                continue;
            };
            chart.draw_series([PathElement::new(vec![back(s, log), back(e, log)], col)])?;
            for end in [a, b].into_iter().filter(|q| inside(*q, bx)) {
                let cap = PathElement::new(vec![(-4, 0), (4, 0)], col);
                chart.draw_series([EmptyElement::at(back(end, log)) + cap])?;
            }
        }
        // Segments are drawn one by one: plotters' thick-polyline joins spike
        // at sharp turns (sawtooth traces, steps).
        let segs = l.runs.iter().flat_map(|r| r.windows(2)).filter(|_| l.line);
        let segs = segs.filter_map(|w| clip_seg(w[0], w[1], bx));
        let style = col.stroke_width(2);
        let anno = chart.draw_series(
            segs.map(|(s, e)| PathElement::new(vec![back(s, log), back(e, log)], style)),
        )?;
        if !l.name.is_empty() {
            let (line, dots, bars) = (l.line, l.dots, !l.bars.is_empty());
            anno.label(l.name).legend(move |(x, y)| {
                let h = if line { vec![(0, 0), (18, 0)] } else { vec![] };
                let v = if bars { vec![(9, -6), (9, 6)] } else { vec![] };
                EmptyElement::at((x, y))
                    + PathElement::new(h, col.stroke_width(2))
                    + PathElement::new(v, col)
                    + Circle::new((9, 0), if dots { 3 } else { 0 }, col.filled())
            });
        }
        // Markers; a line series' isolated or zero-length runs get one too.
        let lone = |r: &&Vec<P>| l.line && r.iter().all(|q| *q == r[0]);
        let marked = l.runs.iter().filter(|r| l.dots || lone(r));
        let dots = marked.flatten().filter(|q| inside(**q, bx));
        chart.draw_series(dots.map(|q| Circle::new(back(*q, log), 3, col.filled())))?;
    }
    if !c.has_data {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        let st = anchored(14.0, HPos::Center, VPos::Center).color(&GREY);
        area.draw(&Text::new("no data", (w as i32 / 2, h as i32 / 2), st))?;
    }
    if c.layers.iter().any(|l| !l.name.is_empty()) {
        let mut labels = chart.configure_series_labels();
        labels.position(c.corner.clone()).label_font(style(12.0));
        labels
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
    }
    Ok(())
}

struct HeatLayout {
    rows: usize,
    cols: usize,
    left: u32,
    top: u32,
    cb_h: u32,
    w: u32,
    h: u32,
    range: (f64, f64),
}

fn label(labels: &[String], i: usize) -> String {
    labels.get(i).cloned().unwrap_or_else(|| i.to_string())
}

fn heat_layout(m: &Heatmap, cell: u32) -> Result<HeatLayout> {
    let (rows, t) = (m.data.len(), &m.title);
    let cols = m.data.first().map_or(0, Vec::len);
    ensure!(
        m.data.iter().all(|r| r.len() == cols),
        "heatmap {t:?}: rows have different lengths"
    );
    ensure!(rows > 0 && cols > 0, "heatmap {t:?}: no data");
    let (nr, nc) = (m.row_labels.len(), m.col_labels.len());
    ensure!(
        nr == 0 || nr == rows,
        "heatmap {t:?}: {nr} row labels for {rows} rows"
    );
    ensure!(
        nc == 0 || nc == cols,
        "heatmap {t:?}: {nc} column labels for {cols} columns"
    );
    let range = user_range(m.range, false)
        .unwrap_or_else(|| data_range(m.data.iter().flatten().copied(), false));
    let row_w = (0..rows)
        .map(|r| text_w(&label(&m.row_labels, r), 11.0))
        .max()
        .unwrap_or(0);
    let left = 16 + row_w + if m.y_label.is_empty() { 0 } else { 24 };
    let top: u32 = if m.title.is_empty() { 10 } else { 36 };
    let (mw, mh) = (
        cell.saturating_mul(cols as u32),
        cell.saturating_mul(rows as u32),
    );
    let cb_h = mh.max(120);
    let (ticks, step) = nice_ticks(range.0, range.1, 5);
    let tf = tick_fmt(0.0, step, 1);
    let tick_w = ticks
        .iter()
        .map(|t| text_w(&tf(t), 11.0))
        .max()
        .unwrap_or(0);
    // A rotated colour-bar label is centred on its x and needs room on both sides.
    let right = 40 + tick_w + if m.colorbar_label.is_empty() { 10 } else { 52 };
    let bottom = 22 + if m.x_label.is_empty() { 8 } else { 28 };
    let w = left.saturating_add(mw).saturating_add(right);
    let h = top.saturating_add(mh.max(cb_h)).saturating_add(bottom);
    Ok(HeatLayout {
        rows,
        cols,
        left,
        top,
        cb_h,
        w,
        h,
        range,
    })
}

/// Renders heatmaps side by side (`cols` per row, clamped to `1..=maps.len()`)
/// with square cells of `cell_px` pixels, each with a colour bar, into one PNG
/// at `path` (written atomically). All tiles share the size of the largest map.
pub fn render_heatmaps(path: &Path, maps: &[Heatmap], cols: usize, cell_px: u32) -> Result<()> {
    ensure!(
        !maps.is_empty(),
        "{}: no heatmaps to render",
        path.display()
    );
    ensure!(
        cell_px > 0,
        "{}: cell size must be positive",
        path.display()
    );
    let layouts = maps
        .iter()
        .map(|m| heat_layout(m, cell_px))
        .collect::<Result<Vec<_>>>()?;
    let cols = cols.clamp(1, maps.len());
    let tw = layouts.iter().map(|l| l.w).max().unwrap_or(1);
    let th = layouts.iter().map(|l| l.h).max().unwrap_or(1);
    let size = (
        tw.saturating_mul(cols as u32),
        th.saturating_mul(maps.len().div_ceil(cols) as u32),
    );
    render_png(path, size, |root| {
        for (i, (m, l)) in maps.iter().zip(&layouts).enumerate() {
            let (ox, oy) = ((i % cols) as i32 * tw as i32, (i / cols) as i32 * th as i32);
            draw_heatmap(root, m, l, cell_px as i32, (ox, oy))
                .with_context(|| format!("heatmap {:?}", m.title))?;
        }
        Ok(())
    })
}

fn draw_heatmap(a: &Area, m: &Heatmap, l: &HeatLayout, c: i32, (ox, oy): (i32, i32)) -> Result<()> {
    let (x0, y0) = (ox + l.left as i32, oy + l.top as i32);
    let (mw, mh) = (c * l.cols as i32, c * l.rows as i32);
    let (lo, hi) = l.range;
    let text = |s: &str, p: (i32, i32), st: TextStyle| a.draw(&Text::new(s.to_string(), p, st));
    let center = Pos::new(HPos::Center, VPos::Center);
    let rot = || FontTransform::Rotate270;
    if !m.title.is_empty() {
        text(&m.title, (x0 + mw / 2, oy + 18), style(16.0).pos(center))?;
    }
    let ann = (m.annotate && c >= 16).then(|| (c as f64 * 0.32).clamp(8.0, 13.0));
    for (r, row) in m.data.iter().enumerate() {
        for (k, &v) in row.iter().enumerate() {
            let (cx, cy) = (x0 + k as i32 * c, y0 + r as i32 * c);
            let col = viridis(if ok(v) {
                (v - lo) / (hi - lo)
            } else {
                f64::NAN
            });
            a.draw(&Rectangle::new([(cx, cy), (cx + c, cy + c)], col.filled()))?;
            let Some(fs) = ann.filter(|_| ok(v)) else {
                continue;
            };
            let fits = (1..=3)
                .rev()
                .map(|d| fmt_f(v, d))
                .find(|s| text_w(s, fs) as i32 <= c - 3);
            let lum =
                0.2126 * f64::from(col.0) + 0.7152 * f64::from(col.1) + 0.0722 * f64::from(col.2);
            let tc = if lum > 140.0 { BLACK } else { WHITE };
            if let Some(s) = fits {
                text(
                    &s,
                    (cx + c / 2, cy + c / 2),
                    style(fs).color(&tc).pos(center),
                )?;
            }
        }
    }
    a.draw(&Rectangle::new([(x0, y0), (x0 + mw, y0 + mh)], BLACK))?;
    // Row / column labels, thinned so that they do not overlap.
    for r in (0..l.rows).step_by((14 / c + 1) as usize) {
        let st = anchored(11.0, HPos::Right, VPos::Center);
        text(
            &label(&m.row_labels, r),
            (x0 - 5, y0 + r as i32 * c + c / 2),
            st,
        )?;
    }
    let cw = (0..l.cols)
        .map(|k| text_w(&label(&m.col_labels, k), 11.0))
        .max()
        .unwrap_or(0);
    for k in (0..l.cols).step_by(((cw as i32 + 6) / c + 1) as usize) {
        let st = anchored(11.0, HPos::Center, VPos::Top);
        text(
            &label(&m.col_labels, k),
            (x0 + k as i32 * c + c / 2, y0 + mh + 5),
            st,
        )?;
    }
    if !m.x_label.is_empty() {
        text(
            &m.x_label,
            (x0 + mw / 2, y0 + mh + 34),
            style(13.0).pos(center),
        )?;
    }
    if !m.y_label.is_empty() {
        text(
            &m.y_label,
            (ox + 18, y0 + mh / 2),
            style(13.0).transform(rot()).pos(center),
        )?;
    }
    // Colour bar with ticks.
    let (bx, bh) = (x0 + mw + 16, l.cb_h as i32);
    for py in 0..bh {
        let col = viridis(1.0 - f64::from(py) / f64::from((bh - 1).max(1)));
        a.draw(&Rectangle::new(
            [(bx, y0 + py), (bx + 18, y0 + py + 1)],
            col.filled(),
        ))?;
    }
    a.draw(&Rectangle::new([(bx, y0), (bx + 18, y0 + bh)], BLACK))?;
    let (ticks, step) = nice_ticks(lo, hi, 5);
    let (tf, mut tw) = (tick_fmt(0.0, step, 1), 0);
    for t in ticks {
        let py = y0 + ((hi - t) / (hi - lo) * f64::from(bh - 1)).round() as i32;
        a.draw(&PathElement::new(vec![(bx + 18, py), (bx + 22, py)], BLACK))?;
        tw = tw.max(text_w(&tf(&t), 11.0) as i32);
        text(
            &tf(&t),
            (bx + 25, py),
            anchored(11.0, HPos::Left, VPos::Center),
        )?;
    }
    if !m.colorbar_label.is_empty() {
        let st = style(13.0).transform(rot()).pos(center);
        text(&m.colorbar_label, (bx + 25 + tw + 16, y0 + bh / 2), st)?;
    }
    Ok(())
}

/// Renders a bar chart of `size` pixels into a PNG at `path` (written
/// atomically). Values are printed above the bars when there is room.
pub fn render_bars(path: &Path, bars: &Bars, size: (u32, u32)) -> Result<()> {
    let (n, nc) = (bars.values.len(), bars.categories.len());
    ensure!(
        nc == 0 || nc == n,
        "bar chart {:?}: {nc} categories for {n} values",
        bars.title
    );
    render_png(path, size, |root| {
        let valid = || bars.values.iter().copied().filter(|v| ok(*v));
        let (vmin, vmax) = (
            valid().fold(0.0f64, f64::min),
            valid().fold(0.0f64, f64::max),
        );
        let span = vmax - vmin;
        let pad = |v: f64| if v == 0.0 { 0.0 } else { 0.1 * span };
        let yr = if span > 0.0 {
            (vmin - pad(vmin), vmax + pad(vmax))
        } else {
            (0.0, 1.0)
        };
        let yf = tick_fmt(yr.0, yr.1, 6);
        let tick_w = [yr.0, yr.1]
            .iter()
            .map(|v| text_w(&yf(v), 12.0))
            .max()
            .unwrap_or(0);
        let mut cb = ChartBuilder::on(root);
        cb.margin(10)
            .x_label_area_size(if bars.x_label.is_empty() { 26 } else { 46 });
        cb.y_label_area_size(tick_w + 14 + if bars.y_label.is_empty() { 0 } else { 22 });
        if !bars.title.is_empty() {
            cb.caption(&bars.title, style(17.0));
        }
        let last = n.max(1) as i32 - 1;
        let mut chart = cb.build_cartesian_2d((0..last).into_segmented(), yr.0..yr.1)?;
        let xf = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if (*i as usize) < n => label(&bars.categories, *i as usize),
            _ => String::new(),
        };
        let pw = chart.plotting_area().dim_in_pixel().0;
        let lw = (0..n)
            .map(|i| text_w(&label(&bars.categories, i), 12.0))
            .max()
            .unwrap_or(0)
            + 8;
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .x_labels(((pw / lw) as usize).clamp(1, n.max(1)))
            .y_labels(6);
        mesh.x_desc(bars.x_label.as_str())
            .y_desc(bars.y_label.as_str());
        mesh.label_style(style(12.0)).axis_desc_style(style(14.0));
        mesh.x_label_formatter(&xf).y_label_formatter(&yf);
        mesh.bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()?;
        let bar_px = pw / n.max(1) as u32;
        let margin = (bar_px / 8).min(12);
        for (i, &v) in bars.values.iter().enumerate().filter(|(_, v)| ok(**v)) {
            let i = i as i32;
            let corners = [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), v),
            ];
            let mut r = Rectangle::new(corners, palette(0).filled());
            r.set_margin(0, 0, margin, margin);
            chart.draw_series([r])?;
            let s = fmt_f(v, 3);
            if text_w(&s, 11.0) + 2 <= bar_px {
                let (dy, vp) = if v >= 0.0 {
                    (-3, VPos::Bottom)
                } else {
                    (3, VPos::Top)
                };
                let t = Text::new(s, (0, dy), anchored(11.0, HPos::Center, vp));
                chart.draw_series([EmptyElement::at((SegmentValue::CenterOf(i), v)) + t])?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memsnn-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_image_that_cannot_be_written_gets_a_plain_message() {
        let dir = scratch("unwritable");
        for bad in [dir.join("missing/x.png"), dir.clone()] {
            let e = render_png(&bad, (10, 10), |_| Ok(())).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.contains(&bad.display().to_string()), "{msg}");
            assert!(
                msg.contains("cannot write the figure") || msg.contains("cannot"),
                "{msg}"
            );
            assert!(!msg.contains("Os {") && !msg.contains("IoError("), "{msg}");
        }
    }

    /// Checks the PNG magic and that no temp file is left; returns the decoded size.
    fn png_size(p: &Path) -> (u32, u32) {
        let bytes = std::fs::read(p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let names = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name());
        assert_eq!(
            names
                .filter(|n| n.to_string_lossy().contains(".tmp-"))
                .count(),
            0
        );
        (reader.info().width, reader.info().height)
    }

    fn series(name: &str, kind: SeriesKind, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            kind,
        }
    }

    fn panels() -> Vec<Panel> {
        let sine: Vec<_> = (0..200)
            .map(|i| (i as f64 * 0.05, (i as f64 * 0.05).sin()))
            .collect();
        let mut gap: Vec<_> = sine.iter().map(|&(x, y)| (x, 0.5 * y)).collect();
        (gap[50].1, gap[51].0) = (f64::NAN, f64::INFINITY);
        let steps = vec![(0.0, 0.0), (2.0, 1.0), (4.5, 0.3), (7.0, 0.8), (9.9, 0.8)];
        let spread = SpreadSeries {
            name: "acc".into(),
            x: vec![1.0, 2.0, 3.0, 4.0, f64::NAN],
            median: vec![0.5, 0.7, 0.8, 0.85, 0.9],
            q1: vec![0.4, 0.6, 0.75, 0.8, 0.8],
            q3: vec![0.6, 0.75, 0.88, f64::NAN, 1.0],
        };
        let g = (0..20).map(|i| (i as f64, 1e-6 * 1.4f64.powi(i) - f64::from(i == 3)));
        let junk = vec![(f64::NAN, 1.0), (1.0, f64::INFINITY), (1e308, -1e308)];
        vec![
            Panel {
                title: "Traces".into(),
                x_label: "time (µs)".into(),
                y_label: "V".into(),
                series: vec![
                    series("sine", SeriesKind::Line, sine),
                    series("gapped", SeriesKind::Line, gap),
                    series("step", SeriesKind::Step, steps),
                ],
                hlines: vec![(0.8, "V_th".into()), (f64::NAN, "ignored".into())],
                ..Default::default()
            },
            Panel {
                series: vec![series(
                    "pts",
                    SeriesKind::Points,
                    vec![(1.5, 0.55), (3.5, 0.95)],
                )],
                spreads: vec![spread],
                y_range: Some((0.9, 0.5)),
                x_range: Some((1.5, 3.5)),
                ..Default::default()
            },
            Panel {
                series: vec![series("G", SeriesKind::LinePoints, g.collect())],
                log_y: true,
                hlines: vec![(1e-4, "G_max".into()), (-1.0, "invalid on log".into())],
                ..Default::default()
            },
            Panel {
                title: "Empty".into(),
                ..Default::default()
            },
            Panel {
                series: vec![series("", SeriesKind::Line, vec![(1.0, 2e-9), (1.0, 2e-9)])],
                ..Default::default()
            },
            Panel {
                series: vec![series("junk", SeriesKind::Step, junk)],
                log_y: true,
                x_range: Some((f64::NAN, 1.0)),
                y_range: Some((-1.0, 10.0)),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn panels_render_to_expected_size() {
        let d = scratch("panels");
        let p = d.join("traces.png");
        render_panels(&p, &panels(), 2, (420, 260)).unwrap();
        assert_eq!(png_size(&p), (840, 780));
        render_panels(&p, &panels()[..1], 5, (300, 200)).unwrap();
        assert_eq!(png_size(&p), (300, 200));
        assert!(render_panels(&p, &[], 1, (300, 200)).is_err());
        assert!(render_panels(&p, &panels(), 1, (0, 200)).is_err());
        let spread = SpreadSeries {
            x: vec![1.0],
            ..Default::default()
        };
        let bad = Panel {
            spreads: vec![spread],
            ..Default::default()
        };
        assert!(render_panels(&d.join("bad.png"), &[bad], 1, (300, 200)).is_err());
        assert!(!d.join("bad.png").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn heatmaps_render_and_reject_ragged() {
        let d = scratch("heat");
        let p = d.join("weights.png");
        let data: Vec<Vec<f64>> = (0..4)
            .map(|r| (0..6).map(|c| ((r * 6 + c) as f64).sin().abs()).collect())
            .collect();
        let mut map = Heatmap {
            title: "before".into(),
            x_label: "input".into(),
            y_label: "neuron".into(),
            data,
            row_labels: (0..4).map(|i| format!("N{i}")).collect(),
            range: Some((0.0, 1.0)),
            colorbar_label: "G / G_max".into(),
            annotate: true,
            ..Default::default()
        };
        let mut after = map.clone();
        after.data[1][2] = f64::NAN;
        render_heatmaps(&p, &[map.clone(), after], 2, 28).unwrap();
        assert_eq!(
            png_size(&p),
            (
                2 * heat_layout(&map, 28).unwrap().w,
                heat_layout(&map, 28).unwrap().h
            )
        );
        let flat = Heatmap {
            data: vec![vec![f64::NAN, 3.0, 3.0]],
            annotate: true,
            ..Default::default()
        };
        render_heatmaps(&p, &[flat], 1, 20).unwrap();
        let nan = Heatmap {
            data: vec![vec![f64::NAN; 3]; 2],
            ..Default::default()
        };
        render_heatmaps(&p, &[nan], 3, 1).unwrap();
        let bad = d.join("bad.png");
        map.data[3].pop();
        let e = render_heatmaps(&bad, &[map.clone()], 1, 10).unwrap_err();
        assert!(e.to_string().contains("different lengths"), "{e}");
        let labels = Heatmap {
            data: vec![vec![1.0]],
            row_labels: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert!(render_heatmaps(&bad, &[labels], 1, 10).is_err());
        assert!(render_heatmaps(&bad, &[Heatmap::default()], 1, 10).is_err());
        assert!(!bad.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bars_render_and_check_categories() {
        let d = scratch("bars");
        let p = d.join("winners.png");
        let bars = Bars {
            title: "Winners".into(),
            x_label: "neuron".into(),
            y_label: "wins".into(),
            categories: (0..6).map(|i| format!("N{i}")).collect(),
            values: vec![12.0, 3.0, 0.0, 25.0, f64::NAN, 7.5],
        };
        render_bars(&p, &bars, (640, 400)).unwrap();
        assert_eq!(png_size(&p), (640, 400));
        let many = Bars {
            values: (0..100).map(|i| (i as f64 - 30.0) * 0.1).collect(),
            ..Default::default()
        };
        render_bars(&p, &many, (500, 300)).unwrap();
        render_bars(
            &p,
            &Bars {
                values: vec![f64::NAN],
                ..Default::default()
            },
            (200, 150),
        )
        .unwrap();
        render_bars(&p, &Bars::default(), (200, 150)).unwrap();
        assert_eq!(png_size(&p), (200, 150));
        let bad = Bars {
            categories: vec!["a".into()],
            values: vec![1.0, 2.0],
            ..Default::default()
        };
        assert!(render_bars(&p, &bad, (200, 150)).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn helpers() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(2.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), NAN_CELL);
        assert_eq!(palette(11), palette(1));
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            (vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0], 0.2)
        );
        let unit = [0.0, 1.0, 0.0, 1.0];
        assert_eq!(
            clip_seg((-1.0, 0.5), (2.0, 0.5), unit),
            Some(((0.0, 0.5), (1.0, 0.5)))
        );
        assert_eq!(clip_seg((-1.0, 2.0), (2.0, 2.0), unit), None);
        assert_eq!(data_range([3.0, 3.0].into_iter(), false), (2.7, 3.3));
        assert_eq!(auto_range(std::iter::empty(), false), (-0.05, 1.05));
        assert_eq!(
            runs([(0.0, 1.0), (1.0, f64::NAN), (2.0, 1.0), (3.0, -1.0)], true).len(),
            2
        );
        assert_eq!(
            step_points(&[(0.0, 1.0), (2.0, 3.0)]),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 3.0)]
        );
        let f = tick_fmt(0.0, 1e-6, 5);
        assert_eq!((f(&2e-7), f(&0.0)), ("2e-7".to_string(), "0".to_string()));
        let corner = legend_corner([(0.9, 0.9), (0.1, 0.9)].into_iter(), unit);
        assert_eq!(format!("{corner:?}"), "LowerRight");
    }
}
