//! A device study with the `devices` crate alone: how the cluster leak rate γ1 of the
//! paper's Fig 2 TS device sets the number of pulses it needs to fire — the integration
//! window of a neuron built on it.
//!
//! For each γ1 and pulse amplitude, one device receives 250 µs pulses with 250 µs gaps at
//! the 0.05 V monitor level, as in the paper's Fig 2f, until it switches ON — 200 times,
//! each trial from rest with a new switching cycle (cycle-to-cycle randomness; no
//! device-to-device spread, as for one measured device). The table gives the median pulse
//! count ("-" when the device fails to switch within 50 pulses in half the trials or
//! more). γ1 = 1000/s is the calibrated Fig 2 device (`topologies/devices/ts_fig2.ron`);
//! near 1.0 V drive and leak almost balance, so there the count is most sensitive to γ1.
//!
//! Run with `cargo run --release --example device_sweep`.

use devices::ts::TsDevice;
use devices::variability::key;
use devices::{DeviceSet, Variability};

/// Pulse width and gap, ns (2 kHz, 50 % duty: the paper's input pulses).
const HALF_PERIOD_NS: u64 = 250_000;
/// Pulses tried before a device counts as silent.
const MAX_PULSES: u32 = 50;
/// Devices per condition.
const TRIALS: u64 = 200;

/// Voltage between pulses: the paper's 0.05 V read-out monitor.
const MONITOR_VOLTS: f64 = 0.05;

/// Pulses until the device, from rest, switches ON (`None`: not within `MAX_PULSES`).
fn pulses_to_fire(dev: &mut TsDevice, volts: f64) -> Option<u32> {
    dev.reset_to_rest();
    for n in 1..=MAX_PULSES {
        if dev.advance(volts, HALF_PERIOD_NS).transition.is_some() {
            return Some(n);
        }
        let _ = dev.advance(MONITOR_VOLTS, HALF_PERIOD_NS);
    }
    None
}

fn main() {
    let set = DeviceSet::builtin();
    let amplitudes = [1.0, 1.1, 1.2, 1.3, 1.4];
    print!("gamma1 (1/s)");
    for a in amplitudes {
        print!("  {a:.1} V");
    }
    println!();
    for gamma1 in [250.0, 500.0, 1000.0, 2000.0, 4000.0] {
        let mut params = set.ts_fig2.clone();
        params.gamma1_per_s = gamma1;
        print!("{gamma1:>12}");
        for (k, &volts) in amplitudes.iter().enumerate() {
            let one_device = Variability {
                device_to_device: false,
                ..Variability::FULL
            };
            let mut dev = TsDevice::new(&params, one_device, key(7, &[k as u64]));
            let mut counts: Vec<u32> = (0..TRIALS)
                .filter_map(|_| pulses_to_fire(&mut dev, volts))
                .collect();
            counts.sort_unstable();
            if counts.len() as u64 <= TRIALS / 2 {
                print!("  {:>5}", "-");
            } else {
                // Median over all devices, silent ones counting as above every count.
                print!("  {:>5}", counts[TRIALS as usize / 2]);
            }
        }
        println!();
    }
}
