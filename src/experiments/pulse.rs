//! Driving one TS device in its test circuit (device in series with a readout resistance)
//! through a piecewise-constant applied voltage, exactly: the device is advanced segment by
//! segment and stops at every switching instant.

use devices::ts::{TsDevice, TsTransition};

/// A switching event seen while applying a waveform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    /// Time since the start of the waveform, ns.
    pub t_ns: u64,
    /// Which way the device switched.
    pub transition: TsTransition,
    /// Index of the segment during which it happened.
    pub segment: usize,
}

/// One sample of a current trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Time since the start of the waveform, ns.
    pub t_ns: u64,
    /// Applied voltage, volts.
    pub v_applied: f64,
    /// Current through the device and the readout, amperes.
    pub current_amps: f64,
    /// Whether the device is ON.
    pub on: bool,
}

/// Applies `segments` of (applied volts, duration ns) to `dev` in series with
/// `r_series_ohms`. Returns every switching event; when `sample_every_ns > 0`, also a
/// current trace sampled on that grid plus at every switching instant.
/// `stop` ends the run early once it returns true for the switches seen so far.
pub fn apply(
    dev: &mut TsDevice,
    segments: &[(f64, u64)],
    r_series_ohms: f64,
    sample_every_ns: u64,
    mut stop: impl FnMut(&[Switch]) -> bool,
) -> (Vec<Switch>, Vec<Sample>) {
    let mut switches = Vec::new();
    let mut samples = Vec::new();
    let mut t0 = 0u64;
    let sample = |dev: &TsDevice, t: u64, v: f64, out: &mut Vec<Sample>| {
        let g_dev = dev.conductance_siemens();
        let i = v / (1.0 / g_dev + r_series_ohms);
        out.push(Sample {
            t_ns: t,
            v_applied: v,
            current_amps: i,
            on: dev.is_on(),
        });
    };
    for (k, &(v, dur)) in segments.iter().enumerate() {
        let mut done = 0u64;
        if sample_every_ns > 0 {
            sample(dev, t0, v, &mut samples);
        }
        while done < dur {
            let mut chunk = dur - done;
            if let Some(k) = (t0 + done).checked_div(sample_every_ns) {
                let next_grid = (k + 1) * sample_every_ns;
                chunk = chunk.min(next_grid - (t0 + done));
            }
            let vd = dev.device_voltage(v, r_series_ohms);
            let step = dev.advance(vd, chunk);
            done += step.elapsed_ns;
            if let Some(tr) = step.transition {
                switches.push(Switch {
                    t_ns: t0 + done,
                    transition: tr,
                    segment: k,
                });
                if sample_every_ns > 0 {
                    sample(dev, t0 + done, v, &mut samples);
                }
                if stop(&switches) {
                    return (switches, samples);
                }
            } else if sample_every_ns > 0 {
                sample(dev, t0 + done, v, &mut samples);
            }
        }
        t0 += dur;
    }
    (switches, samples)
}

/// A train of `n` pulses of `amplitude` volts and `width_ns`, each followed by a gap of
/// `gap_ns` at `rest_volts`.
pub fn pulse_train(
    amplitude: f64,
    width_ns: u64,
    gap_ns: u64,
    rest_volts: f64,
    n: usize,
) -> Vec<(f64, u64)> {
    (0..n)
        .flat_map(|_| [(amplitude, width_ns), (rest_volts, gap_ns)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::{DeviceSet, Variability};

    #[test]
    fn sampling_does_not_change_switching_times() {
        let p = DeviceSet::builtin().ts_fig2;
        let segs = pulse_train(1.1, 250_000, 250_000, 0.05, 12);
        let mut a = TsDevice::new(&p, Variability::FULL, 3);
        let mut b = a.clone();
        let (sa, _) = apply(&mut a, &segs, 1e4, 0, |_| false);
        let (sb, trace) = apply(&mut b, &segs, 1e4, 5_000, |_| false);
        assert!(!sa.is_empty());
        assert_eq!(sa.len(), sb.len());
        for (x, y) in sa.iter().zip(&sb) {
            assert!(x.t_ns.abs_diff(y.t_ns) <= 1, "{x:?} {y:?}");
        }
        assert!(trace.len() > 1000);
        // ON current at 1.1 V through 20 kΩ + 10 kΩ: ~37 µA.
        let on_i = trace
            .iter()
            .filter(|s| s.on && s.v_applied > 1.0)
            .map(|s| s.current_amps);
        for i in on_i {
            assert!((i - 1.1 / 30e3).abs() < 1e-9);
        }
    }
}
