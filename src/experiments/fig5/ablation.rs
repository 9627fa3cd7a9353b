//! The ablation (`reproduce ablation`): layer-1 clustering with and without neuron
//! stochasticity (Supp. Fig 11), and each change of the working configuration switched off
//! alone, all trained and read in parallel.

use super::infer::{
    accuracy, distinct, distinct_winners, hidden_labels, hidden_readout_accuracy, infer,
    level_winners, patterns_recognised, votes,
};
use super::protocol::Inference;
use super::report::{grid, weight_maps};
use super::setup::{setup_variant, Setup, Variant};
use super::train::{train_first_layer, train_layer2, Trained};
use crate::experiments::{ExperimentReport, RunOptions};
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_bars, render_heatmaps, Bars};
use crate::report::{percent, Summary};
use anyhow::{bail, Result};
use devices::Variability;
use runtime::model::topology::schema::Inhibition;
use serde_json::{json, Value};
use std::path::Path;

/// Winners per hidden neuron: how many patterns each neuron wins (clean, read mode).
fn winner_histogram(s: &mut Setup, opts: &RunOptions, read: &Inference) -> (Vec<usize>, usize) {
    let res = infer(s, read, &[0], opts.trials.clamp(1, 10), opts.seed);
    let n_pat = s.patterns.len();
    let hr = votes(&res, 0, n_pat);
    let mut hist = vec![0usize; s.msnn.hidden.neurons.len()];
    for row in &hr {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if max > 0.0 {
            if let Some(j) = row.iter().position(|&x| x == max) {
                hist[j] += 1;
            }
        }
    }
    (hist, distinct_winners(&hr))
}

/// The ablation steps: from the working configuration, each change beyond the paper read
/// literally switched off alone (the first row is the configuration itself).
const ABLATION_STEPS: [Variant; 7] = [
    Variant::AS_GIVEN,
    Variant {
        name: "threshold switching law",
        what: "hidden neurons switch at a per-cycle switching point (ts_neuron.ron) instead of by the hazard law",
        neurons: None,
        topology: |t| t.devices.ts = "builtin:ts_neuron".into(),
        protocol: |_| {},
    },
    Variant {
        name: "one training pass",
        what: "layer 1 trained in one pass of the blocks instead of the protocol's passes",
        neurons: None,
        topology: |_| {},
        protocol: |p| p.layer1.epochs = 1,
    },
    Variant {
        name: "blocks in file order",
        what: "every pass presents the blocks in the pattern file's order instead of a fresh random order",
        neurons: None,
        topology: |_| {},
        protocol: |p| p.layer1.shuffle = false,
    },
    Variant {
        name: "hidden device in layer 2",
        what: "the output layer uses the hidden layer's TS device instead of its own (ts_output.ron)",
        neurons: None,
        topology: |t| {
            for l in &mut t.layers {
                if matches!(l.inhibition, Inhibition::Supervised(_)) {
                    l.ts = None;
                }
            }
        },
        protocol: |_| {},
    },
    Variant {
        name: "no winner hold",
        what: "the paper's LIA (gates follow the comparators) instead of the winner hold",
        neurons: None,
        topology: |t| t.devices.lia = Some("builtin:lia".into()),
        protocol: |_| {},
    },
    Variant {
        name: "one read window",
        what: "each trial read in one 100 ms window of spike counts instead of races that end at the first output fire, until one output leads by the protocol's votes",
        neurons: None,
        topology: |_| {},
        protocol: |p| {
            p.inference.races = 1;
            p.inference.window_cycles = 200;
            p.inference.until_output_fire = false;
            p.inference.lead_votes = 0;
            p.layer2.selection_reads = 1;
        },
    },
];

/// Inference trials per pattern and noise level in each ablation step (at most).
const ABLATION_TRIALS: usize = 20;
/// Noise levels read in each ablation step.
const ABLATION_NOISE: [u32; 2] = [0, 2];

/// What one ablation step measured.
#[derive(Clone, Debug)]
struct StepResult {
    winners_by_rate: usize,
    winners_by_level: usize,
    hidden_readout: f64,
    clean: f64,
    noise2: f64,
    recognised: usize,
}

/// Trains and reads one ablation step (quietly: steps run in parallel).
fn ablation_step(opts: &RunOptions, v: &Variant) -> Result<StepResult> {
    let (s, proto) = setup_variant(opts, v, false)?;
    let mut t = train_first_layer(s, &proto.layer1, opts.seed);
    let s = &mut t.setup;
    train_layer2(s, &proto.layer2, &proto.inference);
    let trials = opts
        .trials
        .clamp(1, ABLATION_TRIALS.min(proto.inference.trials.max(1)));
    let res = infer(s, &proto.inference, &ABLATION_NOISE, trials, opts.seed);
    let n_pat = s.patterns.len();
    let h0 = votes(&res, 0, n_pat);
    let labels = hidden_labels(&h0);
    Ok(StepResult {
        winners_by_rate: distinct_winners(&h0),
        winners_by_level: distinct(&level_winners(&t.w1_after, &s.patterns)),
        hidden_readout: hidden_readout_accuracy(&res, 0, &labels),
        clean: accuracy(&res, 0),
        noise2: accuracy(&res, 2),
        recognised: patterns_recognised(&res, 0, n_pat),
    })
}

/// Runs `jobs` on the machine's cores, results in job order.
fn in_parallel<T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + '_>>) -> Vec<T> {
    let n = jobs.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |w| w.get())
        .min(n.max(1));
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new((0..n).map(|_| None).collect::<Vec<Option<T>>>());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let job = queue.lock().expect("queue").pop();
                let Some((i, f)) = job else { break };
                let r = f();
                results.lock().expect("results")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// `memsnn reproduce ablation`: layer-1 clustering with and without neuron stochasticity
/// (Supp. Fig 11), and each change of the working configuration switched off alone.
pub fn ablation(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let deterministic = Variability {
        cycle_to_cycle: false,
        device_to_device: false,
    };
    let det_variant = Variant {
        name: "deterministic neurons",
        what: "no cycle-to-cycle and no device-to-device randomness in the TS devices",
        neurons: Some(deterministic),
        ..Variant::AS_GIVEN
    };
    let pb = crate::experiments::progress(2 + ABLATION_STEPS.len() as u64, "ablation", true);
    type Histo = (Trained, Vec<usize>, usize);
    let histogram = |v: Variant| -> Result<Histo> {
        let (s, proto) = setup_variant(opts, &v, false)?;
        let mut t = train_first_layer(s, &proto.layer1, opts.seed);
        let (h, w) = winner_histogram(&mut t.setup, opts, &proto.inference);
        pb.inc(1);
        Ok((t, h, w))
    };
    let mut jobs: Vec<Box<dyn FnOnce() -> Result<Job> + Send + '_>> = vec![
        Box::new(|| histogram(Variant::AS_GIVEN).map(|h| Job::Histogram(Box::new(h)))),
        Box::new(|| histogram(det_variant).map(|h| Job::Histogram(Box::new(h)))),
    ];
    for v in ABLATION_STEPS {
        let pb = &pb;
        jobs.push(Box::new(move || {
            let r = ablation_step(opts, &v).map(Job::Step);
            pb.inc(1);
            r
        }));
    }
    enum Job {
        Histogram(Box<Histo>),
        Step(StepResult),
    }
    let mut done = in_parallel(jobs).into_iter();
    pb.finish_and_clear();
    let (st, h_s, w_s) = match done.next() {
        Some(Ok(Job::Histogram(h))) => *h,
        Some(Err(e)) => return Err(e),
        _ => bail!("the stochastic network could not be trained"),
    };
    let (dt, h_d, w_d) = match done.next() {
        Some(Ok(Job::Histogram(h))) => *h,
        Some(Err(e)) => return Err(e),
        _ => bail!("the deterministic network could not be trained"),
    };
    let mut steps = Vec::new();
    for (v, r) in ABLATION_STEPS.iter().zip(done) {
        match r? {
            Job::Step(r) => steps.push((v, r)),
            Job::Histogram(_) => unreachable!("steps come after the histograms"),
        }
    }
    let dir = ExperimentDir::create(out, "ablation")?;
    let rows: Vec<Vec<String>> = h_s
        .iter()
        .zip(&h_d)
        .enumerate()
        .map(|(j, (a, b))| vec![j.to_string(), a.to_string(), b.to_string()])
        .collect();
    dir.write_csv(
        "data.csv",
        &[
            "hidden_neuron",
            "patterns_won_stochastic",
            "patterns_won_deterministic",
        ],
        &rows,
    )?;
    let step_rows: Vec<Vec<String>> = steps
        .iter()
        .map(|(v, r)| {
            vec![
                v.name.to_string(),
                r.winners_by_rate.to_string(),
                r.winners_by_level.to_string(),
                fmt_f(r.hidden_readout, 3),
                fmt_f(r.clean, 3),
                fmt_f(r.noise2, 3),
                r.recognised.to_string(),
            ]
        })
        .collect();
    dir.write_csv(
        "steps.csv",
        &[
            "switched_off",
            "layer1_distinct_winners",
            "layer1_distinct_winners_by_level",
            "hidden_readout_accuracy_clean",
            "clean_accuracy",
            "accuracy_2_noise_pixels",
            "patterns_recognised_clean",
        ],
        &step_rows,
    )?;
    let steps_json: Vec<Value> = steps
        .iter()
        .map(|(v, r)| {
            json!({
                "switched_off": v.name,
                "change": v.what,
                "layer1_distinct_winners": r.winners_by_rate,
                "layer1_distinct_winners_by_level": r.winners_by_level,
                "hidden_readout_accuracy_clean": r.hidden_readout,
                "clean_accuracy": r.clean,
                "accuracy_2_noise_pixels": r.noise2,
                "patterns_recognised_clean": r.recognised,
            })
        })
        .collect();
    let n_hid = h_s.len();
    let by_level = |t: &Trained| distinct(&level_winners(&t.w1_after, &t.setup.patterns));
    Summary::new("ablation")
        .with("seed", opts.seed)
        .with("stochastic_distinct_winners", w_s)
        .with("deterministic_distinct_winners", w_d)
        .with("stochastic_distinct_winners_by_level", by_level(&st))
        .with("deterministic_distinct_winners_by_level", by_level(&dt))
        .with("stochastic_patterns_won", &h_s)
        .with("deterministic_patterns_won", &h_d)
        .with("stochastic_training_winners", &st.l1.winners)
        .with("deterministic_training_winners", &dt.l1.winners)
        .with("stochastic_training_sequence", &st.l1.sequence)
        .with("deterministic_training_sequence", &dt.l1.sequence)
        .with("deterministic_neurons", det_variant.what)
        .with(
            "ablation_trials_per_pattern",
            opts.trials.clamp(1, ABLATION_TRIALS),
        )
        .with("ablation_noise_pixels", ABLATION_NOISE)
        .with("ablation_steps", steps_json)
        .write(&dir)?;
    let cats: Vec<String> = (0..n_hid).map(|j| format!("n{j}")).collect();
    render_bars(
        &dir.file("winners_stochastic.png"),
        &Bars {
            title: format!("Supp. Fig 11: stochastic neurons — {w_s} distinct winners"),
            x_label: "hidden neuron".into(),
            y_label: "patterns won".into(),
            categories: cats.clone(),
            values: h_s.iter().map(|&x| x as f64).collect(),
        },
        (700, 400),
    )?;
    render_bars(
        &dir.file("winners_deterministic.png"),
        &Bars {
            title: format!("Supp. Fig 11: deterministic neurons — {w_d} distinct winners"),
            x_label: "hidden neuron".into(),
            y_label: "patterns won".into(),
            categories: cats,
            values: h_d.iter().map(|&x| x as f64).collect(),
        },
        (700, 400),
    )?;
    let dims = grid(
        st.w1_after.first().map_or(0, |w| w.len()),
        Some(st.setup.dims),
    );
    let mut maps = weight_maps("stochastic", &st.w1_after, dims);
    maps.extend(weight_maps("deterministic", &dt.w1_after, dims));
    render_heatmaps(
        &dir.file("weights.png"),
        &maps,
        st.w1_after.len().max(1),
        26,
    )?;
    let dir = dir.commit()?;
    let mut report = ExperimentReport::new("ablation", &dir)
        .row(
            "distinct layer-1 winners, stochastic neurons",
            "clusters",
            w_s.to_string(),
        )
        .row(
            "distinct layer-1 winners, deterministic neurons",
            "one greedy neuron",
            w_d.to_string(),
        );
    for (v, r) in &steps {
        report.push(
            format!("{}: winners / L1 / L2 clean / 2 px", v.name),
            "—",
            format!(
                "{} / {} / {} / {}",
                r.winners_by_level,
                percent(r.hidden_readout, 0),
                percent(r.clean, 0),
                percent(r.noise2, 0)
            ),
        );
    }
    Ok(report)
}
