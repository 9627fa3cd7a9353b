//! Device kernels: the TS closed-form advance and switching-time query, and a 1T1R update.
//!
//! Run: `cargo bench --bench devices`.

use criterion::{criterion_group, criterion_main, Criterion};
use devices::ts::TsDevice;
use devices::{DeviceSet, Variability};
use std::hint::black_box;

fn ts_kernels(c: &mut Criterion) {
    let set = DeviceSet::builtin();
    let dev = TsDevice::new(&set.ts_neuron, Variability::FULL, 1);
    // One CLK-high phase (250 µs) of integration at 0.75 V, the untrained-column level:
    // no switching inside, the common case.
    c.bench_function("ts/advance 250us no switch", |b| {
        b.iter_batched_ref(
            || dev.clone(),
            |d| black_box(d.advance(black_box(0.75), 250_000)),
            criterion::BatchSize::SmallInput,
        )
    });
    // Query the exact switching instant inside a phase where the device does switch.
    let mut near = dev.clone();
    let mut s = *near.state();
    s.nucleation = 0.97 * near.rates().theta;
    near.set_state(s);
    c.bench_function("ts/time_to_transition with switch", |b| {
        b.iter(|| black_box(near.time_to_transition(black_box(1.4), 250_000)))
    });
    c.bench_function("ts/time_to_transition no switch", |b| {
        b.iter(|| black_box(dev.time_to_transition(black_box(0.75), 250_000)))
    });
}

fn rs_kernels(c: &mut Criterion) {
    let set = DeviceSet::builtin();
    let p = set.synapse;
    let d = p.device(42, Variability::FULL);
    c.bench_function("rs/program one SET exposure", |b| {
        b.iter(|| black_box(p.program(&d, black_box(0.3), black_box(1.6), 250e-6, 3.0, 0.1)))
    });
    // A column's programming piece: one voltage's factors shared by 784 devices, each
    // with its curve's constant precomputed (what `Column` does per sub-step).
    let devs: Vec<_> = (0..784u64)
        .map(|i| {
            let d = p.device(i, Variability::FULL);
            (d, d.curve(), p.compliance_cap_p(&d, 3.0))
        })
        .collect();
    c.bench_function("rs/784 devices one SET sub-step, shared step", |b| {
        b.iter(|| {
            let step = p.step(black_box(1.6), 10e-6, 3.0);
            let mut acc = 0.0f32;
            for (d, curve, cap) in &devs {
                let p0 = curve.p_of(black_box(400e-6));
                let p1 = p.apply_step(d, p0, &step, *cap, 0.1);
                acc += curve.conductance_siemens(p1) as f32;
            }
            black_box(acc)
        })
    });
    c.bench_function("rs/784 devices one SET sub-step, per-device program", |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            for (d, _, _) in &devs {
                let p0 = d.p_of(black_box(400e-6));
                let p1 = p.program(d, p0, black_box(1.6), 10e-6, 3.0, 0.1);
                acc += d.conductance_siemens(p1) as f32;
            }
            black_box(acc)
        })
    });
    c.bench_function("rs/derive device from key + conductance", |b| {
        b.iter(|| {
            let d = p.device(black_box(42), Variability::FULL);
            black_box(d.conductance_siemens(black_box(0.4)))
        })
    });
}

criterion_group! {
    name = benches;
    // Plots off: criterion's plotters backend needs system fonts this project does not use.
    config = Criterion::default().without_plots();
    targets = ts_kernels, rs_kernels
}
criterion_main!(benches);
