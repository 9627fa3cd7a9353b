//! Whole small networks: the `wta_ff` workload (1 s of 10 presentations) at 30×10 and
//! 784×100 on the reference and sharded executors, and learning in situ at 30×10 and
//! 784×100 (`wta_ff_learning`: every fire programs the winner's column), with
//! Bernoulli-gated inputs (`p0.5`: a new pattern every CLK period), build excluded;
//! the hot path of a silent neuron — advancing its TS over whole CLK periods in closed
//! form; preparing a gated 784-line pattern (driven lines and amplitude sums, done
//! once per pattern for the whole layer); and the columns' weighted sums of it, one
//! column at a time and eight side by side.
//!
//! Run: `cargo bench --bench network`. For throughput in synaptic events per second (the
//! Brian2/NEST comparison) use `memsnn bench` instead.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use devices::ts::TsDevice;
use devices::{DeviceSet, Variability};
use memsnn::bench::{with_learning, PAPER_WRITE_VOLTS};
use runtime::engine::event::LinePattern;
use runtime::engine::exec::ExecutorKind;
use runtime::engine::pattern_sums::{weighted_sums, WeightTile, TILE_LANES};
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::{build, load};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

fn wta_ff(c: &mut Criterion) {
    let mut g = c.benchmark_group("wta_ff 1 s");
    g.sample_size(10);
    for size in ["30x10", "784x100"] {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("topologies/wta_ff/{size}.ron"));
        let checked = load(&path).expect("shipped topology");
        let learning = checked
            .clone()
            .edit(|t| with_learning(t, PAPER_WRITE_VOLTS))
            .expect("checks");
        // Bernoulli-gated inputs: a new pattern every CLK period, so every column
        // refreshes its sums every period (the column's amplitude kernel).
        let gated = checked
            .clone()
            .edit(|t| t.inputs.iter_mut().for_each(|i| i.pulse_prob = 0.5))
            .expect("checks");
        for (label, ex, checked) in [
            ("reference", (ExecutorKind::Reference, 1), &checked),
            ("sharded2", (ExecutorKind::Sharded, 2), &checked),
            (
                "learning reference",
                (ExecutorKind::Reference, 1),
                &learning,
            ),
            ("p0.5 reference", (ExecutorKind::Reference, 1), &gated),
        ] {
            g.bench_function(format!("{size} {label}"), |b| {
                b.iter_batched(
                    || {
                        let built = build(checked, 1).expect("builds");
                        let ids = NetworkIds::of(&built);
                        (
                            ex.0.executor(built.builder.build(), ex.1)
                                .expect("executor"),
                            ids,
                        )
                    },
                    |(mut sim, ids)| {
                        let log = run_protocol(sim.as_mut(), &ids, checked.topology(), None)
                            .expect("runs");
                        black_box(log.end_ns)
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

fn silent_neuron(c: &mut Criterion) {
    let set = DeviceSet::builtin();
    let dev = TsDevice::new(&set.ts_fig2, Variability::FULL, 1);
    // A loser of a 784-input layer: ~0.7 V in CLK-high phases, 0 V in low phases.
    c.bench_function("ts/advance 10 periods closed form", |b| {
        b.iter_batched_ref(
            || dev.clone(),
            |d| black_box(d.advance_periods(black_box(0.7), 250_000, 0.0, 250_000, 10)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("ts/advance 10 periods phase by phase", |b| {
        b.iter_batched_ref(
            || dev.clone(),
            |d| {
                for _ in 0..10 {
                    black_box(d.advance(black_box(0.7), 250_000));
                    black_box(d.advance(0.0, 250_000));
                }
            },
            BatchSize::SmallInput,
        )
    });
}

fn line_pattern(c: &mut Criterion) {
    // Half the lines driven at the read level, at random (a gated prototype).
    let mut state = 1u64;
    let amplitudes: Vec<f32> = (0..784)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if state >> 63 == 1 {
                1.45
            } else {
                0.0
            }
        })
        .collect();
    let amplitudes: Arc<[f32]> = amplitudes.into();
    c.bench_function("pattern/784 lines, half driven", |b| {
        b.iter(|| black_box(LinePattern::new(black_box(amplitudes.clone()))))
    });
    // The columns' sums Σ G·A, Σ G·A² of that pattern: 64 columns of 784 conductances
    // (one layer's slice), one at a time and sixteen side by side (the same bits).
    let p = LinePattern::new(amplitudes);
    let columns: Vec<Vec<f32>> = (0..64u32)
        .map(|c| {
            (0..784u32)
                .map(|i| 1e-4 + ((c * 784 + i) % 97) as f32 * 1e-6)
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("pattern sums, 64 columns × 784 lines, half driven");
    g.throughput(criterion::Throughput::Elements(
        64 * p.driven().len() as u64,
    ));
    g.bench_function("one column at a time", |b| {
        b.iter(|| {
            for w in &columns {
                black_box(weighted_sums(black_box(&p), w));
            }
        })
    });
    // The same columns interleaved sixteen to a tile (copied once, as a layer keeps them
    // while its weights do not change).
    let tiles: Vec<WeightTile> = columns
        .chunks(TILE_LANES)
        .map(|w| {
            let mut t = WeightTile::new(784);
            for (l, w) in w.iter().enumerate() {
                t.set_lane(l, w);
            }
            t
        })
        .collect();
    g.bench_function("sixteen interleaved in a tile", |b| {
        b.iter(|| {
            for t in &tiles {
                black_box(t.sums(black_box(&p)));
            }
        })
    });
    g.finish();
    // A whole 784×1600 layer's tiles (5 MB, beyond the caches closest to the core), as
    // a gated layer reads them at every CLK period: the memory, not the arithmetic, sets
    // the pace here.
    let layer: Vec<WeightTile> = (0..1600 / TILE_LANES)
        .map(|t| {
            let mut tile = WeightTile::new(784);
            for (l, w) in columns.iter().cycle().skip(t).take(TILE_LANES).enumerate() {
                tile.set_lane(l, w);
            }
            tile
        })
        .collect();
    let mut g = c.benchmark_group("pattern sums, 1,600 columns × 784 lines, half driven");
    g.throughput(criterion::Throughput::Elements(
        1600 * p.driven().len() as u64,
    ));
    g.bench_function("sixteen interleaved in a tile", |b| {
        b.iter(|| {
            for t in &layer {
                black_box(t.sums(black_box(&p)));
            }
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().without_plots()
}

criterion_group! { name = benches; config = config(); targets = wta_ff, silent_neuron, line_pattern }
criterion_main!(benches);
