//! `reproduce mnist` on the shipped 300/100-digit fixture: learning happens through the
//! circuit (conductance maps move toward their class's mean digit, accuracy above chance
//! by a derived margin), and bad data is refused before anything is written.

mod common;
use common::{fixture, gz, idx};
use std::path::{Path, PathBuf};
use std::process::Command;

use memsnn::experiments::mnist::{
    evaluate, load_inputs, network, present, MnistOptions, WriteStrobe,
};
use memsnn::experiments::RunOptions;

fn scratch(name: &str) -> PathBuf {
    common::scratch("mnist-tests", name)
}

fn options(neurons: usize, epochs: u32) -> RunOptions {
    RunOptions {
        seed: 1,
        mnist: MnistOptions {
            data: Some(fixture()),
            neurons: Some(neurons),
            epochs: Some(epochs),
            ..MnistOptions::default()
        },
        ..RunOptions::default()
    }
}

/// Pearson correlation of two equally long vectors.
fn corr(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt().max(1e-300)
}

#[test]
fn the_layer_learns_the_digits_of_the_fixture() {
    let opts = options(20, 2);
    let inp = load_inputs(&opts).unwrap();
    // Reads with each neuron's held threshold (`read_threshold: Held`): the labels then
    // come from the same competition as the training wins, so they say what each neuron
    // learned. (The default shared read rail changes only reads: see the homeostasis
    // tests and docs/mnist.md.)
    let circuit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/devices/neuron_cmos_mnist.ron"),
    )
    .unwrap();
    let held = circuit.replace("read_threshold: Rail(0.28)", "read_threshold: Held");
    assert_ne!(held, circuit, "the MNIST circuit names its read rail");
    let dir = scratch("held-reads");
    std::fs::create_dir_all(&dir).unwrap();
    let held_path = dir.join("neuron_cmos_mnist_held.ron");
    std::fs::write(&held_path, held).unwrap();
    let checked = inp
        .checked
        .clone()
        .edit(|t| t.devices.circuit = held_path.to_string_lossy().into_owned())
        .unwrap();
    let e = evaluate(&inp, &checked, 1, false).unwrap();

    // Chance is 1/10. With 100 test digits the accuracy of a guesser has a standard
    // deviation of sqrt(0.1 · 0.9 / 100) = 3 %: 25 % is five of them above chance.
    assert!(e.test_accuracy > 0.25, "test accuracy {}", e.test_accuracy);
    // Reading in all the races is the read itself.
    let &(races, by_races) = e.accuracy_by_races.last().unwrap();
    assert_eq!(races, inp.proto.read_races);
    assert_eq!(by_races, e.test_accuracy);

    // Learning moved each labelled neuron's conductance map toward the mean training
    // digit of its class: it correlates best with its own class's mean far more often
    // than chance, and far better than an untrained column (equal conductances up to a
    // 5 % spread: no correlation with any digit).
    let train = &inp.train;
    let pixels = train.images.pixels_per_image();
    let mut means = vec![vec![0.0; pixels]; inp.classes];
    let mut counts = vec![0usize; inp.classes];
    for i in 0..train.len() {
        let (img, y) = train.get(i).unwrap();
        counts[y as usize] += 1;
        for (m, &g) in means[y as usize].iter_mut().zip(img) {
            *m += g as f64;
        }
    }
    for (m, &c) in means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|x| *x /= c.max(1) as f64);
    }
    let (mut labelled, mut own_best, mut own_corr) = (0, 0, 0.0);
    for (w, label) in e.weights.iter().zip(&e.labels) {
        let Some(c) = label else { continue };
        labelled += 1;
        let r: Vec<f64> = means.iter().map(|m| corr(w, m)).collect();
        let best = (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        own_best += (best == *c as usize) as usize;
        own_corr += r[*c as usize];
    }
    assert!(labelled >= 15, "only {labelled} of 20 neurons labelled");
    // By chance 1 in 10 would: a binomial count with mean n/10 and standard deviation
    // sqrt(n · 0.09); ask for five of them above.
    let n = labelled as f64;
    let bound = n * 0.1 + 5.0 * (n * 0.09).sqrt();
    assert!(
        own_best as f64 > bound,
        "{own_best} of {labelled} neurons correlate best with their own class (bound {bound:.1})"
    );
    let mean_corr = own_corr / labelled as f64;
    assert!(
        mean_corr > 0.3,
        "mean correlation with the own class {mean_corr}"
    );

    // Every neuron took part: the adaptive threshold keeps one from taking all digits.
    let used = e.wins.iter().filter(|&&w| w > 0).count();
    assert!(used >= 18, "{used} of 20 neurons won a training digit");
}

#[test]
fn without_the_adaptive_threshold_a_greedy_neuron_takes_the_digits() {
    // The same layer with the circuit extension switched off (the paper's circuit):
    // training winners concentrate on a few neurons.
    let opts = options(20, 2);
    let inp = load_inputs(&opts).unwrap();
    let plain = inp
        .checked
        .clone()
        .edit(|t| {
            for l in t.layers.iter_mut() {
                l.threshold_leak_seconds = None;
            }
            t.devices.circuit = "../devices/neuron_cmos_784.ron".into();
        })
        .unwrap();
    let e = evaluate(&inp, &plain, 1, false).unwrap();
    let total: u64 = e.wins.iter().sum();
    let top = *e.wins.iter().max().unwrap();
    assert!(
        top * 4 > total,
        "the busiest neuron won {top} of {total} digits: no greedy neuron"
    );
}

/// A data folder with `n_train` / `n_test` images of `rows × cols` (labels 0–9).
fn data_dir(name: &str, n_train: u32, n_test: u32, train_size: u32, test_size: u32) -> PathBuf {
    let d = scratch(name);
    let write = |file: &str, bytes: Vec<u8>| std::fs::write(d.join(file), gz(&bytes)).unwrap();
    let img = |n: u32, s: u32| idx(&[n, s, s], &vec![200u8; (n * s * s) as usize]);
    let lab = |n: u32| idx(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    write("train-images-idx3-ubyte.gz", img(n_train, train_size));
    write("train-labels-idx1-ubyte.gz", lab(n_train));
    write("t10k-images-idx3-ubyte.gz", img(n_test, test_size));
    write("t10k-labels-idx1-ubyte.gz", lab(n_test));
    d
}

/// Runs `memsnn reproduce mnist --data DIR --out OUT`; returns (exit code, stderr, OUT).
fn reproduce(data: &Path, name: &str) -> (Option<i32>, String, PathBuf) {
    let out = scratch(&format!("{name}-out")).join("results");
    let o = Command::new(env!("CARGO_BIN_EXE_memsnn"))
        .args(["reproduce", "mnist", "--neurons", "4", "--data"])
        .arg(data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into(),
        out,
    )
}

#[test]
fn bad_data_is_refused_before_anything_is_written() {
    // Each case: a data folder, a file the message must name, a phrase it must contain.
    let cases: Vec<(PathBuf, &str, &str)> = {
        let trunc = data_dir("truncated", 4, 2, 5, 5);
        let f = trunc.join("train-images-idx3-ubyte.gz");
        let raw = idx(&[4, 5, 5], &[1u8; 100]);
        std::fs::write(&f, gz(&raw[..raw.len() - 10])).unwrap();
        let magic = data_dir("magic", 4, 2, 5, 5);
        let mut bad = idx(&[4, 5, 5], &[1u8; 100]);
        bad[2] = 0x07; // not 0x08 (unsigned bytes)
        std::fs::write(magic.join("t10k-images-idx3-ubyte.gz"), gz(&bad)).unwrap();
        let counts = data_dir("counts", 4, 2, 5, 5);
        std::fs::write(
            counts.join("train-labels-idx1-ubyte.gz"),
            gz(&idx(&[3], &[0, 1, 2])),
        )
        .unwrap();
        vec![
            (trunc, "train-images-idx3-ubyte.gz", "truncated"),
            (magic, "t10k-images-idx3-ubyte.gz", ""),
            (counts, "train-labels-idx1-ubyte.gz", ""),
            (data_dir("sizes", 4, 2, 5, 6), "", "same image size"),
            (data_dir("empty", 4, 0, 5, 5), "", "no images"),
        ]
    };
    for (dir, file, phrase) in cases {
        let (code, err, out) = reproduce(&dir, dir.file_name().unwrap().to_str().unwrap());
        assert_eq!(code, Some(1), "{}: exit {code:?}, {err}", dir.display());
        assert!(
            err.contains(file),
            "{}: message names no {file}: {err}",
            dir.display()
        );
        assert!(
            err.to_lowercase().contains(phrase),
            "{}: message lacks `{phrase}`: {err}",
            dir.display()
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out.exists(),
            "{}: {} was written",
            dir.display(),
            out.display()
        );
    }
}

#[test]
fn rate_coded_digits_are_learned_too() {
    let mut opts = options(20, 2);
    opts.mnist.coding = Some(memsnn::data::coding::Coding::Rate {
        max_probability: 1.0,
    });
    let inp = load_inputs(&opts).unwrap();
    let e = evaluate(&inp, &inp.checked, 1, false).unwrap();
    // Five standard deviations above chance, as for binary coding.
    assert!(e.test_accuracy > 0.25, "test accuracy {}", e.test_accuracy);
}

#[test]
fn every_executor_learns_the_same_conductances() {
    use memsnn::runtime::ExecutorKind;
    let run = |kind: ExecutorKind, workers: usize| {
        let mut opts = options(8, 1);
        opts.mnist.train = Some(60);
        opts.mnist.test = Some(20);
        opts.mnist.executor = kind;
        opts.mnist.workers = workers;
        let inp = load_inputs(&opts).unwrap();
        let e = evaluate(&inp, &inp.checked, 1, false).unwrap();
        (e.weights, e.thresholds, e.predicted, e.wins)
    };
    let reference = run(ExecutorKind::Reference, 1);
    assert!(reference.3.iter().sum::<u64>() > 0, "nobody learned");
    assert_eq!(run(ExecutorKind::Sharded, 2), reference, "sharded ×2");
    #[cfg(feature = "actix")]
    assert_eq!(run(ExecutorKind::Actix, 2), reference, "actix ×2");
}

/// Columns whose conductances differ between `a` and `b`.
fn changed_columns(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<usize> {
    (0..a.len()).filter(|&j| a[j] != b[j]).collect()
}

#[test]
fn with_the_write_strobe_integrating_columns_never_write() {
    // Training digits of the fixture, each presented once to an untrained layer.
    let inp = load_inputs(&options(40, 1)).unwrap();
    let train = &inp.train;
    let ink = |i: usize| {
        let (img, _) = train.get(i).unwrap();
        img.iter().filter(|&&g| g >= 128).count() as f64 / img.len() as f64
    };
    let mut by_ink: Vec<usize> = (0..train.len()).collect();
    by_ink.sort_by(|&a, &b| ink(a).total_cmp(&ink(b)));
    let (sparsest, median) = (by_ink[0], by_ink[by_ink.len() / 2]);
    // Node 1 of an untrained column is ~1.6 V · f · ΣG / (ΣG + G_L): equal conductances
    // weigh every line alike, and the node-1 load G_L = 0.03 S is ~10 % of the 784 lines'
    // ~0.31 S. Below f ≈ 6 % it sits under 1.6 − 1.5 V (the synapse's SET threshold), so
    // while integrating at the write level every driven synapse of every column sets.
    let f = ink(sparsest);
    assert!(
        f < 0.06,
        "the fixture's sparsest digit has {:.1} % ink",
        100.0 * f
    );

    let write = inp.proto.levels.input_write_volts as f32;
    let present_once = |i: usize, strobe: Option<WriteStrobe>| {
        let (image, _) = train.get(i).unwrap();
        let mut m = network(&inp, &inp.checked, 1).unwrap();
        let hidden = m.hidden.clone();
        m.set_learning(&hidden, true);
        m.set_input_amplitude(write);
        let before = m.weights(&hidden);
        let fires0 = m.fires(&hidden);
        present(&mut m, &inp.proto.coding, image, 7, 100, None, strobe).unwrap();
        let fires = m.fires(&hidden);
        let fired: Vec<usize> = (0..fires.len()).filter(|&j| fires[j] > fires0[j]).collect();
        (fired, changed_columns(&before, &m.weights(&hidden)))
    };
    let strobe = Some(WriteStrobe {
        integrate_volts: inp.proto.levels.read_volts as f32,
        write_volts: write,
    });

    // The paper's drivers: the columns of neurons that never fired were written too.
    let (fired, changed) = present_once(sparsest, None);
    let silent = 40 - fired.len();
    let others = changed.iter().filter(|j| !fired.contains(j)).count();
    assert!(
        others * 10 >= silent * 9,
        "only {others} of the {silent} silent neurons' columns were written"
    );

    // With the strobe (1.45 V while integrating, under 1.5 V across any synapse) only the
    // columns of neurons that fired (potentiation, depression) change, for the sparsest
    // digit as for a median one, which the layer answers and its winner learns.
    for (i, answered) in [(sparsest, false), (median, true)] {
        let (fired, changed) = present_once(i, strobe);
        assert!(
            changed.iter().all(|j| fired.contains(j)),
            "columns {changed:?} changed, neurons {fired:?} fired"
        );
        if answered {
            assert!(
                !changed.is_empty(),
                "no column learned the median digit ({fired:?} fired)"
            );
        }
    }
}

#[test]
fn an_integration_level_out_of_range_is_refused_at_its_place() {
    let shipped =
        std::fs::read_to_string(memsnn::experiments::mnist::default_protocol_path()).unwrap();
    let bad = shipped.replace("integrate_volts: Some(1.45)", "integrate_volts: Some(-0.5)");
    assert_ne!(
        bad, shipped,
        "the shipped protocol names its integration level"
    );
    let dir = scratch("bad-strobe");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mnist.ron");
    std::fs::write(&path, &bad).unwrap();
    let e = format!(
        "{:#}",
        memsnn::experiments::mnist::load_protocol(&path).unwrap_err()
    );
    let line = bad
        .lines()
        .position(|l| l.contains("integrate_volts: Some(-0.5)"))
        .unwrap()
        + 1;
    assert!(
        e.contains(&format!("mnist.ron:{line}:")) && e.contains("integrate_volts"),
        "{e}"
    );
}
