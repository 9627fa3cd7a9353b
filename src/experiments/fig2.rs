//! The paper's Fig 2c–f: the TS device alone, driven by pulses in its test circuit.
//!
//! * **fig2c** — one 1.2 V / 1 ms pulse, then a 0.05 V monitor: fire delay and relaxation.
//! * **fig2d** — 1 ms pulses at 1.0…1.4 V, many cycles: integration and relaxation times.
//! * **fig2e** — 1.1 V, 250 µs pulses with 250 µs gaps and no refractory period: pulses
//!   to the first and to the second fire (incomplete relaxation shortens the second).
//! * **fig2f** — pulses to the first fire against amplitude.
//!
//! Each trial starts from a fully relaxed device (`TsDevice::reset_to_rest`: a long rest
//! between trials) with a fresh switching cycle. The device is the nominal parameter set
//! (`ts_fig2.ron` describes the paper's measured device): cycle-to-cycle randomness is on,
//! device-to-device spread off, and the same device is used at every amplitude, as in the
//! paper's measurements of one device.

use super::pulse::{apply, pulse_train, Sample, Switch};
use super::stats::{iqr, median, median_count, quantile};
use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series, SeriesKind, SpreadSeries};
use crate::report::{joined, or_none, ExperimentReport, Summary};
use anyhow::Result;
use devices::params::{parse_ron, Validate, Validator};
use devices::ts::{TsDevice, TsParams, TsTransition};
use devices::variability::key;
use devices::{DeviceSet, Variability};
use serde::Deserialize;
use std::path::Path;

const US: u64 = 1_000;

/// The built-in protocol file.
pub const FIG2_PROTOCOL: &str = include_str!("../../topologies/experiments/fig2.ron");

/// Protocol of the Fig 2 experiments (`topologies/experiments/fig2.ron`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fig2Protocol {
    /// Device parameter set: a built-in file name or a path relative to the protocol file.
    pub device: String,
    /// Readout resistance in series with the device, ohms.
    pub series_resistance_ohms: f64,
    /// Monitor voltage between pulses, volts.
    pub monitor_volts: f64,
    /// Fig 2c settings.
    pub fig2c: SinglePulse,
    /// Fig 2d settings.
    pub fig2d: LongPulses,
    /// Fig 2e settings.
    pub fig2e: Train,
    /// Fig 2f settings.
    pub fig2f: Trains,
    /// Rest between trials, µs (documentation of the assumption behind `reset_to_rest`).
    pub rest_between_trials_us: u64,
}

/// One pulse then the monitor voltage.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinglePulse {
    /// Pulse amplitude, volts.
    pub amplitude_volts: f64,
    /// Pulse width, µs.
    pub width_us: u64,
    /// Monitor duration after the pulse, µs.
    pub monitor_us: u64,
}

/// Long single pulses at several amplitudes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongPulses {
    /// Amplitudes, volts.
    pub amplitudes_volts: Vec<f64>,
    /// Pulse width, µs.
    pub width_us: u64,
    /// Longest relaxation looked for after the pulse, µs.
    pub max_relaxation_us: u64,
}

/// One pulse train.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Train {
    /// Amplitude, volts.
    pub amplitude_volts: f64,
    /// Pulse width, µs.
    pub width_us: u64,
    /// Gap between pulses (at the monitor voltage), µs.
    pub gap_us: u64,
    /// Longest train applied, pulses.
    pub max_pulses: usize,
}

/// Pulse trains at several amplitudes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trains {
    /// Amplitudes, volts.
    pub amplitudes_volts: Vec<f64>,
    /// Pulse width, µs.
    pub width_us: u64,
    /// Gap, µs.
    pub gap_us: u64,
    /// Longest train applied, pulses.
    pub max_pulses: usize,
}

impl Validate for Fig2Protocol {
    fn validate(&self, v: &mut Validator) {
        v.positive("series_resistance_ohms", self.series_resistance_ohms);
        v.non_negative("monitor_volts", self.monitor_volts);
        v.nested("fig2c", |v| {
            v.positive("amplitude_volts", self.fig2c.amplitude_volts);
            v.check(
                "width_us",
                self.fig2c.width_us > 0,
                "must be > 0",
                "pulse widths are positive",
            );
        });
        v.nested("fig2d", |v| {
            v.check(
                "amplitudes_volts",
                !self.fig2d.amplitudes_volts.is_empty(),
                "needs at least one amplitude",
                "list amplitudes in volts",
            );
            for a in &self.fig2d.amplitudes_volts {
                v.positive("amplitudes_volts", *a);
            }
            v.check(
                "width_us",
                self.fig2d.width_us > 0,
                "must be > 0",
                "pulse widths are positive",
            );
        });
        v.nested("fig2e", |v| {
            v.positive("amplitude_volts", self.fig2e.amplitude_volts);
            v.check(
                "max_pulses",
                self.fig2e.max_pulses > 1,
                "must be > 1",
                "the second fire needs room",
            );
        });
        v.nested("fig2f", |v| {
            v.check(
                "amplitudes_volts",
                !self.fig2f.amplitudes_volts.is_empty(),
                "needs at least one amplitude",
                "list amplitudes in volts",
            );
            for a in &self.fig2f.amplitudes_volts {
                v.positive("amplitudes_volts", *a);
            }
            v.check(
                "max_pulses",
                self.fig2f.max_pulses > 0,
                "must be > 0",
                "apply at least one pulse",
            );
        });
    }
}

impl Fig2Protocol {
    /// The built-in protocol.
    pub fn builtin() -> Self {
        parse_ron(FIG2_PROTOCOL, Path::new("topologies/experiments/fig2.ron"))
            .expect("built-in fig2 protocol is valid (checked by tests)")
    }

    /// The device: `override_path` (`--device`) if given, else the protocol's.
    fn device_params(&self, override_path: Option<&Path>) -> Result<TsParams> {
        if let Some(path) = override_path {
            return Ok(DeviceSet::load_ts(path)?);
        }
        let set = DeviceSet::builtin();
        Ok(match self.device.as_str() {
            "ts_fig2.ron" => set.ts_fig2,
            "ts_neuron.ron" => set.ts_neuron,
            other => DeviceSet::load_ts(Path::new(other))?,
        })
    }
}

/// Writes a current trace as CSV (`t_us, v_applied_v, current_ua, on`).
fn write_trace(dir: &ExperimentDir, file: &str, trace: &[Sample]) -> Result<()> {
    let rows: Vec<Vec<String>> = trace
        .iter()
        .map(|s| {
            vec![
                fmt_f(s.t_ns as f64 / 1e3, 3),
                fmt_f(s.v_applied, 3),
                fmt_f(s.current_amps * 1e6, 6),
                (s.on as u8).to_string(),
            ]
        })
        .collect();
    dir.write_csv(file, &["t_us", "v_applied_v", "current_ua", "on"], &rows)?;
    Ok(())
}

/// Plots applied voltage and device current of a trace, one above the other.
fn plot_trace(path: &Path, title: &str, trace: &[Sample]) -> Result<()> {
    let pts = |f: &dyn Fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        trace.iter().map(|s| (s.t_ns as f64 / 1e3, f(s))).collect()
    };
    let step = |points| Series {
        name: String::new(),
        points,
        kind: SeriesKind::Step,
    };
    let panels = [
        Panel {
            title: title.to_string(),
            x_label: "time (µs)".into(),
            y_label: "applied voltage (V)".into(),
            series: vec![step(pts(&|s| s.v_applied))],
            ..Panel::default()
        },
        Panel {
            title: "device current".into(),
            x_label: "time (µs)".into(),
            y_label: "current (µA)".into(),
            series: vec![step(pts(&|s| s.current_amps * 1e6))],
            ..Panel::default()
        },
    ];
    render_panels(path, &panels, 1, (900, 300))
}

fn first_time(sw: &[Switch], tr: TsTransition) -> Option<u64> {
    sw.iter().find(|s| s.transition == tr).map(|s| s.t_ns)
}

fn device(params: &TsParams, opts: &RunOptions) -> TsDevice {
    let variability = Variability {
        device_to_device: false,
        ..opts.variability
    };
    TsDevice::new(params, variability, key(opts.seed, &[0xf162]))
}

/// Fig 2c: fire delay and relaxation of one pulse.
pub fn fig2c(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let proto = Fig2Protocol::builtin();
    let params = proto.device_params(opts.device.as_deref())?;
    let c = &proto.fig2c;
    let mut dev = device(&params, opts);
    let segs = [
        (c.amplitude_volts, c.width_us * US),
        (proto.monitor_volts, c.monitor_us * US),
    ];
    let (sw, trace) = apply(
        &mut dev,
        &segs,
        proto.series_resistance_ohms,
        2 * US,
        |_| false,
    );
    let fire = first_time(&sw, TsTransition::SwitchedOn);
    let off = sw
        .iter()
        .find(|s| s.transition == TsTransition::SwitchedOff && s.segment == 1)
        .map(|s| s.t_ns);
    let pulse_end = c.width_us * US;
    let fire_delay_us = fire.map(|t| t as f64 / 1e3);
    let relaxation_us = off.map(|t| (t - pulse_end) as f64 / 1e3);

    let dir = ExperimentDir::create(out, "fig2c")?;
    write_trace(&dir, "data.csv", &trace)?;
    Summary::new("fig2c")
        .with("amplitude_v", c.amplitude_volts)
        .with("width_us", c.width_us)
        .with("monitor_v", proto.monitor_volts)
        .with("fire_delay_us", fire_delay_us)
        .with("relaxation_us", relaxation_us)
        .with("seed", opts.seed)
        .write(&dir)?;
    let title = format!(
        "Fig 2c: {} V / {} µs pulse, {} V monitor",
        c.amplitude_volts, c.width_us, proto.monitor_volts
    );
    plot_trace(&dir.file("fig2c.png"), &title, &trace)?;

    let show = |x: Option<f64>| x.map(|v| fmt_f(v, 1)).unwrap_or_else(|| "no fire".into());
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig2c", &dir)
        .row(
            "fire delay of a 1.2 V/1 ms pulse (µs)",
            "< 1000",
            show(fire_delay_us),
        )
        .row(
            "relaxation after the pulse (µs)",
            "> 0",
            show(relaxation_us),
        ))
}

/// Per-amplitude statistics of one quantity.
#[derive(Clone, Debug, Default)]
struct Spread {
    median: Vec<f64>,
    q1: Vec<f64>,
    q3: Vec<f64>,
    iqr: Vec<f64>,
    /// Coefficient of variation (standard deviation / mean).
    cv: Vec<f64>,
}

impl Spread {
    fn push(&mut self, xs: &[f64]) {
        self.median.push(median(xs));
        self.q1.push(quantile(xs, 0.25));
        self.q3.push(quantile(xs, 0.75));
        self.iqr.push(iqr(xs));
        self.cv.push(coefficient_of_variation(xs));
    }
}

/// Standard deviation over mean (NaN for fewer than two values or a zero mean).
fn coefficient_of_variation(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    var.sqrt() / mean
}

/// Fig 2d: integration and relaxation times against amplitude.
pub fn fig2d(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let proto = Fig2Protocol::builtin();
    let params = proto.device_params(opts.device.as_deref())?;
    let d = &proto.fig2d;
    let mut rows = Vec::new();
    let (mut integ, mut relax) = (Spread::default(), Spread::default());
    let mut fired_frac = Vec::new();
    for &amp in &d.amplitudes_volts {
        let mut dev = device(&params, opts);
        let (mut ti, mut tr) = (Vec::new(), Vec::new());
        for trial in 0..opts.trials {
            dev.reset_to_rest();
            let segs = [
                (amp, d.width_us * US),
                (proto.monitor_volts, d.max_relaxation_us * US),
            ];
            let (sw, _) = apply(&mut dev, &segs, proto.series_resistance_ohms, 0, |s| {
                s.iter().any(|x| x.transition == TsTransition::SwitchedOff)
            });
            let fire = sw
                .iter()
                .find(|s| s.transition == TsTransition::SwitchedOn && s.segment == 0);
            let off = sw
                .iter()
                .find(|s| s.transition == TsTransition::SwitchedOff);
            let i_us = fire.map(|s| s.t_ns as f64 / 1e3);
            let r_us = match (fire, off) {
                (Some(_), Some(o)) => Some((o.t_ns - d.width_us * US) as f64 / 1e3),
                _ => None,
            };
            if let Some(x) = i_us {
                ti.push(x);
            }
            if let Some(x) = r_us {
                tr.push(x);
            }
            rows.push(vec![
                fmt_f(amp, 2),
                trial.to_string(),
                i_us.map(|x| fmt_f(x, 3)).unwrap_or_default(),
                r_us.map(|x| fmt_f(x, 3)).unwrap_or_default(),
                (fire.is_some() as u8).to_string(),
            ]);
        }
        fired_frac.push(ti.len() as f64 / opts.trials.max(1) as f64);
        integ.push(&ti);
        relax.push(&tr);
    }
    let dir = ExperimentDir::create(out, "fig2d")?;
    dir.write_csv(
        "data.csv",
        &[
            "amplitude_v",
            "trial",
            "integration_us",
            "relaxation_us",
            "fired",
        ],
        &rows,
    )?;
    Summary::new("fig2d")
        .with("width_us", d.width_us)
        .with("trials_per_amplitude", opts.trials)
        .with("amplitudes_v", &d.amplitudes_volts)
        .with("median_integration_us", &integ.median)
        .with("median_relaxation_us", &relax.median)
        .with("iqr_integration_us", &integ.iqr)
        .with("iqr_relaxation_us", &relax.iqr)
        .with("cv_integration", &integ.cv)
        .with("cv_relaxation", &relax.cv)
        .with("device", &params.name)
        .with("switching_law", params.switching.name())
        .with("q1_integration_us", &integ.q1)
        .with("q3_integration_us", &integ.q3)
        .with("q1_relaxation_us", &relax.q1)
        .with("q3_relaxation_us", &relax.q3)
        .with("fired_fraction", &fired_frac)
        .with("seed", opts.seed)
        .write(&dir)?;
    let panel = |title: &str, y: &str, s: &Spread| Panel {
        title: title.into(),
        x_label: "pulse amplitude (V)".into(),
        y_label: y.into(),
        spreads: vec![SpreadSeries {
            name: "median, IQR".into(),
            x: d.amplitudes_volts.clone(),
            median: s.median.clone(),
            q1: s.q1.clone(),
            q3: s.q3.clone(),
        }],
        ..Panel::default()
    };
    render_panels(
        &dir.file("fig2d.png"),
        &[
            panel(
                "Fig 2d: integration time (1 ms pulses)",
                "integration time (µs)",
                &integ,
            ),
            panel(
                "relaxation time after the pulse",
                "relaxation time (µs)",
                &relax,
            ),
        ],
        2,
        (560, 420),
    )?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig2d", &dir)
        .row(
            "median integration time, 1.0→1.4 V (µs)",
            "falls",
            joined(&integ.median, 0),
        )
        .row(
            "median relaxation time, 1.0→1.4 V (µs)",
            "rises",
            joined(&relax.median, 0),
        ))
}

/// Pulse index (1-based) of the first fire and of the next fire after it.
fn pulses_to_fires(
    dev: &mut TsDevice,
    t: &Train,
    monitor: f64,
    r_series: f64,
) -> (Option<u32>, Option<u32>) {
    let segs = pulse_train(
        t.amplitude_volts,
        t.width_us * US,
        t.gap_us * US,
        monitor,
        t.max_pulses,
    );
    let (sw, _) = apply(dev, &segs, r_series, 0, |s| {
        s.iter()
            .filter(|x| x.transition == TsTransition::SwitchedOn)
            .count()
            >= 2
    });
    let mut ons = sw
        .iter()
        .filter(|s| s.transition == TsTransition::SwitchedOn);
    let first = ons.next().map(|s| (s.segment / 2) as u32 + 1);
    let second = ons.next().map(|s| (s.segment / 2) as u32 + 1);
    (first, second.zip(first).map(|(b, a)| b - a))
}

/// Fig 2e: pulses to the first and second fires without a refractory period.
pub fn fig2e(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let proto = Fig2Protocol::builtin();
    let params = proto.device_params(opts.device.as_deref())?;
    let t = &proto.fig2e;
    let mut dev = device(&params, opts);
    let (mut firsts, mut seconds, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for trial in 0..opts.trials {
        dev.reset_to_rest();
        let (a, b) = pulses_to_fires(
            &mut dev,
            t,
            proto.monitor_volts,
            proto.series_resistance_ohms,
        );
        firsts.extend(a);
        seconds.extend(b);
        rows.push(vec![
            trial.to_string(),
            a.map(|x| x.to_string()).unwrap_or_default(),
            b.map(|x| x.to_string()).unwrap_or_default(),
        ]);
    }
    // One example trace for the figure (first trial's seed).
    let mut ex = device(&params, opts);
    ex.reset_to_rest();
    let segs = pulse_train(
        t.amplitude_volts,
        t.width_us * US,
        t.gap_us * US,
        proto.monitor_volts,
        10,
    );
    let (_, trace) = apply(&mut ex, &segs, proto.series_resistance_ohms, 2 * US, |_| {
        false
    });
    let dir = ExperimentDir::create(out, "fig2e")?;
    dir.write_csv(
        "data.csv",
        &["trial", "pulses_first_fire", "pulses_second_fire"],
        &rows,
    )?;
    write_trace(&dir, "trace.csv", &trace)?;
    let m1 = median_count(&firsts);
    let m2 = median_count(&seconds);
    Summary::new("fig2e")
        .with("amplitude_v", t.amplitude_volts)
        .with("width_us", t.width_us)
        .with("gap_us", t.gap_us)
        .with("trials", opts.trials)
        .with("median_pulses_first_fire", m1)
        .with("median_pulses_second_fire", m2)
        .with(
            "fired_fraction",
            firsts.len() as f64 / opts.trials.max(1) as f64,
        )
        .with("seed", opts.seed)
        .write(&dir)?;
    let title = format!(
        "Fig 2e: {} V, {} µs pulses, {} µs gaps, no refractory period",
        t.amplitude_volts, t.width_us, t.gap_us
    );
    plot_trace(&dir.file("fig2e.png"), &title, &trace)?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig2e", &dir)
        .row("median pulses to the first fire (1.1 V)", "4", or_none(m1))
        .row("median pulses to the second fire", "fewer", or_none(m2)))
}

/// Fig 2f: pulses to the first fire against amplitude.
pub fn fig2f(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let proto = Fig2Protocol::builtin();
    let params = proto.device_params(opts.device.as_deref())?;
    let f = &proto.fig2f;
    let mut rows = Vec::new();
    let (mut med, mut q1, mut q3, mut frac) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &amp in &f.amplitudes_volts {
        let train = Train {
            amplitude_volts: amp,
            width_us: f.width_us,
            gap_us: f.gap_us,
            max_pulses: f.max_pulses,
        };
        let mut dev = device(&params, opts);
        let mut counts = Vec::new();
        for trial in 0..opts.trials {
            dev.reset_to_rest();
            let segs = pulse_train(
                amp,
                train.width_us * US,
                train.gap_us * US,
                proto.monitor_volts,
                train.max_pulses,
            );
            let (sw, _) = apply(&mut dev, &segs, proto.series_resistance_ohms, 0, |s| {
                !s.is_empty()
            });
            let n = sw.first().map(|s| (s.segment / 2) as u32 + 1);
            counts.extend(n);
            rows.push(vec![
                fmt_f(amp, 2),
                trial.to_string(),
                n.map(|x| x.to_string()).unwrap_or_default(),
            ]);
        }
        let as_f: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        med.push(median_count(&counts).map(|c| c as f64).unwrap_or(f64::NAN));
        q1.push(quantile(&as_f, 0.25));
        q3.push(quantile(&as_f, 0.75));
        frac.push(counts.len() as f64 / opts.trials.max(1) as f64);
    }
    let dir = ExperimentDir::create(out, "fig2f")?;
    dir.write_csv(
        "data.csv",
        &["amplitude_v", "trial", "pulses_first_fire"],
        &rows,
    )?;
    Summary::new("fig2f")
        .with("width_us", f.width_us)
        .with("gap_us", f.gap_us)
        .with("trials_per_amplitude", opts.trials)
        .with("amplitudes_v", &f.amplitudes_volts)
        .with("median_pulses_first_fire", &med)
        .with("q1_pulses_first_fire", &q1)
        .with("q3_pulses_first_fire", &q3)
        .with("fired_fraction", &frac)
        .with("seed", opts.seed)
        .write(&dir)?;
    render_panels(
        &dir.file("fig2f.png"),
        &[Panel {
            title: format!(
                "Fig 2f: pulses to the first fire ({} µs pulses and gaps)",
                f.width_us
            ),
            x_label: "pulse amplitude (V)".into(),
            y_label: "pulses to fire".into(),
            spreads: vec![SpreadSeries {
                name: "median, IQR".into(),
                x: f.amplitudes_volts.clone(),
                median: med.clone(),
                q1,
                q3,
            }],
            ..Panel::default()
        }],
        1,
        (700, 450),
    )?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig2f", &dir).row(
        "median pulses to fire, 1.0→1.4 V",
        "fall",
        joined(&med, 0),
    ))
}
