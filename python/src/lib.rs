//! `memsnn._memsnn`: the Rust half of the Python package (PyO3). The pure-Python package
//! `memsnn/` wraps it (NumPy structured arrays, dicts, `_repr_html_`); see
//! python/README.md.
//!
//! Everything a run computes happens with the GIL released ([`Python::detach`]): a run is a
//! pure function of (topology, seed), so other Python threads keep running meanwhile.

use memsnn::experiments::{self, RunOptions};
use memsnn::runtime::model::topology::SavedWeights;
use memsnn::runtime::{ExecutorKind, Model as RsModel};
use numpy::{IntoPyArray, PyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

create_exception!(
    _memsnn,
    MemsnnError,
    PyException,
    "A topology, device, pattern or weights file has problems (the message locates each \
     one: file:line:col, field, what to do), or a run or experiment failed."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    MemsnnError::new_err(e.to_string())
}

/// A checked topology: every file it names read and checked once.
#[pyclass(frozen, module = "memsnn._memsnn")]
struct Model {
    inner: RsModel,
    path: String,
}

/// One probed signal: sample times (ns), sub-indices and values (SI units).
type Signal = (Vec<u64>, Vec<u32>, Vec<f64>);

/// What one run produced, as plain data (built without the GIL).
#[pyclass(frozen, module = "memsnn._memsnn")]
struct RawResult {
    /// Fires: time (ns), layer index into `layers`, neuron index.
    fire_times: Vec<u64>,
    fire_layers: Vec<u32>,
    fire_neurons: Vec<u32>,
    layers: Vec<String>,
    /// `component.kind` → samples.
    signals: BTreeMap<String, Signal>,
    #[pyo3(get)]
    log_json: String,
    #[pyo3(get)]
    energy_json: String,
    /// Every layer's conductances after the run (serialised only when saved).
    weights: SavedWeights,
    #[pyo3(get)]
    seed: u64,
    #[pyo3(get)]
    executor: String,
    #[pyo3(get)]
    workers: usize,
    #[pyo3(get)]
    wall_s: f64,
    #[pyo3(get)]
    name: String,
}

fn run_model(
    model: &RsModel,
    seed: u64,
    kind: ExecutorKind,
    workers: usize,
) -> Result<RawResult, String> {
    let t0 = Instant::now();
    let mut session = model
        .session(seed, kind, workers)
        .map_err(|e| e.to_string())?;
    let log = session.run_protocol().map_err(|e| e.to_string())?;
    let wall_s = t0.elapsed().as_secs_f64();
    let energy = session.energy();
    let weights = session.weights();
    let layers: Vec<String> = session.layers().keys().cloned().collect();
    let fires = session.fires();
    let index = |name: &str| layers.iter().position(|l| l == name).unwrap_or(0) as u32;
    let fire_layers = fires.iter().map(|f| index(&f.layer)).collect();
    let fire_times = fires.iter().map(|f| f.time_ns).collect();
    let fire_neurons = fires.iter().map(|f| f.neuron as u32).collect();
    let names = session.network().names.clone();
    let mut signals: BTreeMap<String, Signal> = BTreeMap::new();
    for r in session.records() {
        let comp = names
            .get(r.comp as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{}", r.comp));
        let s = signals.entry(format!("{comp}.{}", r.kind)).or_default();
        s.0.push(r.time);
        s.1.push(r.index);
        s.2.push(r.value);
    }
    Ok(RawResult {
        fire_times,
        fire_layers,
        fire_neurons,
        layers,
        signals,
        log_json: serde_json::to_string(&log).map_err(|e| e.to_string())?,
        energy_json: serde_json::to_string(&energy).map_err(|e| e.to_string())?,
        weights,
        seed,
        executor: kind.to_string(),
        workers,
        wall_s,
        name: model.topology().name.clone(),
    })
}

#[pymethods]
impl Model {
    /// Runs the topology's protocol with `seed` on `executor` (`"reference"`, `"sharded"`
    /// or `"actix"`, identical results) with `workers` threads; the GIL is released
    /// meanwhile.
    #[pyo3(signature = (seed = 1, executor = "reference", workers = 1))]
    fn run(
        &self,
        py: Python<'_>,
        seed: u64,
        executor: &str,
        workers: usize,
    ) -> PyResult<RawResult> {
        let kind: ExecutorKind = executor.parse().map_err(err)?;
        let model = self.inner.clone();
        py.detach(move || run_model(&model, seed, kind, workers.max(1)))
            .map_err(MemsnnError::new_err)
    }

    /// The topology's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.topology().name.clone()
    }

    /// The file the model was loaded from.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// `{layer: neurons}`.
    #[getter]
    fn layers(&self) -> BTreeMap<String, u32> {
        self.inner
            .topology()
            .layers
            .iter()
            .map(|l| (l.name.clone(), l.neurons))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("Model(name={:?}, path={:?})", self.name(), self.path)
    }
}

#[pymethods]
impl RawResult {
    /// `(time_ns u64[n], layer u32[n] (index into `layers`), neuron u32[n], layers)`.
    #[allow(clippy::type_complexity)]
    fn fires<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyArray1<u64>>,
        Bound<'py, PyArray1<u32>>,
        Bound<'py, PyArray1<u32>>,
        Vec<String>,
    ) {
        (
            self.fire_times.clone().into_pyarray(py),
            self.fire_layers.clone().into_pyarray(py),
            self.fire_neurons.clone().into_pyarray(py),
            self.layers.clone(),
        )
    }

    /// `{"component.kind": (time_ns u64[n], index u32[n], value f64[n])}`.
    fn signals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, (t, i, v)) in &self.signals {
            d.set_item(
                k,
                (
                    t.clone().into_pyarray(py),
                    i.clone().into_pyarray(py),
                    v.clone().into_pyarray(py),
                ),
            )?;
        }
        Ok(d)
    }

    /// Writes every layer's conductances after the run to `path` as RON (what a layer's
    /// `initial: Saved("path")` reads back), replacing the file whole.
    fn save_weights(&self, path: PathBuf) -> PyResult<()> {
        let text = self.weights.to_ron().map_err(err)?;
        memsnn::output::atomic_write(&path, text.as_bytes())
            .map_err(|e| err(format!("{}: {e:#}", path.display())))
    }
}

/// Loads and checks the topology at `path` and every file it names.
#[pyfunction]
fn load(path: PathBuf) -> PyResult<Model> {
    let inner = RsModel::load(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    Ok(Model {
        inner,
        path: path.display().to_string(),
    })
}

/// The experiments and groups `reproduce` knows.
#[pyfunction]
fn experiment_names() -> Vec<String> {
    experiments::EXPERIMENTS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect()
}

fn opt<'py, T: FromPyObjectOwned<'py>>(
    options: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match options.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            PyTypeError::new_err(format!("option {key}: {e}"))
        })?)),
        _ => Ok(None),
    }
}

/// Runs experiment or group `name` into `out` (one folder per experiment) and returns
/// `{experiment: summary.json text}`.
#[pyfunction]
#[pyo3(signature = (name, out, seed, options))]
fn reproduce(
    py: Python<'_>,
    name: &str,
    out: PathBuf,
    seed: u64,
    options: &Bound<'_, PyDict>,
) -> PyResult<BTreeMap<String, String>> {
    const KNOWN: [&str; 14] = [
        "trials",
        "patterns",
        "noise_pixels",
        "protocol",
        "device",
        "data",
        "neurons",
        "train",
        "test",
        "epochs",
        "coding",
        "mnist_protocol",
        "executor",
        "workers",
    ];
    for k in options.keys() {
        let k: String = k.extract()?;
        if !KNOWN.contains(&k.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "reproduce() got an unknown option {k:?}; known: {}",
                KNOWN.join(", ")
            )));
        }
    }
    let mut opts = RunOptions {
        seed,
        ..RunOptions::default()
    };
    if let Some(t) = opt(options, "trials")? {
        opts.trials = t;
    }
    opts.patterns = opt(options, "patterns")?;
    opts.noise_pixels = opt(options, "noise_pixels")?;
    opts.protocol = opt(options, "protocol")?;
    opts.device = opt(options, "device")?;
    opts.mnist.data = opt(options, "data")?;
    opts.mnist.neurons = opt(options, "neurons")?;
    opts.mnist.train = opt(options, "train")?;
    opts.mnist.test = opt(options, "test")?;
    opts.mnist.epochs = opt(options, "epochs")?;
    opts.mnist.protocol = opt(options, "mnist_protocol")?;
    if let Some(c) = opt::<String>(options, "coding")? {
        opts.mnist.coding = Some(match c.as_str() {
            "rate" => memsnn::data::coding::Coding::Rate {
                max_probability: 1.0,
            },
            "binary" => memsnn::data::coding::Coding::default(),
            other => return Err(err(format!("coding {other:?}: use \"binary\" or \"rate\""))),
        });
    }
    if let Some(e) = opt::<String>(options, "executor")? {
        opts.mnist.executor = e.parse().map_err(err)?;
    }
    if let Some(w) = opt(options, "workers")? {
        opts.mnist.workers = w;
    }
    let name = name.to_string();
    py.detach(move || -> Result<BTreeMap<String, String>, String> {
        let reports = experiments::reproduce(&name, &opts, &out).map_err(|e| format!("{e:#}"))?;
        let mut summaries = BTreeMap::new();
        for r in reports {
            let file = r.dir.join("summary.json");
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            summaries.insert(r.name, text);
        }
        Ok(summaries)
    })
    .map_err(MemsnnError::new_err)
}

/// The Rust half of the `memsnn` Python package.
#[pymodule]
fn _memsnn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MemsnnError", m.py().get_type::<MemsnnError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Model>()?;
    m.add_class::<RawResult>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(reproduce, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_names, m)?)?;
    Ok(())
}
