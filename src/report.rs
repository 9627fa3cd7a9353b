//! What an experiment reports: the rows of the paper-vs-memsnn table and its `summary.json`.
//!
//! An experiment declares its summary with [`Summary`] (a JSON object that starts with the
//! experiment's name; keys are written sorted, as `serde_json` orders an object) and its
//! table rows with [`ExperimentReport::row`]; [`paper_table`] renders the rows of every
//! experiment run for the terminal. The small formatters ([`or_none`], [`joined`],
//! [`yes_no`], [`percent`]) keep the table's wording the same across experiments.

use crate::output::{fmt_f, table, ExperimentDir};
use anyhow::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One row of the paper-vs-memsnn table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Experiment name (`fig2c`, `fig5`, ...).
    pub experiment: String,
    /// What is compared, with its unit.
    pub quantity: String,
    /// What the paper states.
    pub paper: String,
    /// What memsnn measured, as text.
    pub memsnn: String,
}

impl Row {
    /// The row's four cells in table order.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.experiment.clone(),
            self.quantity.clone(),
            self.paper.clone(),
            self.memsnn.clone(),
        ]
    }
}

/// The header of the paper-vs-memsnn table.
pub const TABLE_HEADER: [&str; 4] = ["experiment", "quantity", "paper", "memsnn"];

/// The paper-vs-memsnn table of `rows`, aligned for the terminal ([`table`]).
pub fn paper_table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
    table(&TABLE_HEADER, &cells)
}

/// What an experiment produced: its folder and its rows of the paper-vs-memsnn table.
#[derive(Clone, Debug)]
pub struct ExperimentReport {
    /// Experiment name (also its folder name).
    pub name: String,
    /// Folder with its outputs.
    pub dir: PathBuf,
    /// Table rows, in the order they are printed.
    pub rows: Vec<Row>,
}

impl ExperimentReport {
    /// A report of experiment `name` with outputs in the folder `dir` (its committed
    /// [`ExperimentDir`]) and no rows yet.
    pub fn new(name: &str, dir: &Path) -> Self {
        ExperimentReport {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            rows: Vec::new(),
        }
    }

    /// Adds a row: the `quantity` compared, what the `paper` states, what `memsnn` measured.
    pub fn row(mut self, quantity: impl Into<String>, paper: &str, memsnn: String) -> Self {
        self.push(quantity, paper, memsnn);
        self
    }

    /// Adds a row in place (see [`ExperimentReport::row`]).
    pub fn push(&mut self, quantity: impl Into<String>, paper: &str, memsnn: String) {
        self.rows.push(Row {
            experiment: self.name.clone(),
            quantity: quantity.into(),
            paper: paper.to_string(),
            memsnn,
        });
    }
}

/// An experiment's `summary.json`: a JSON object whose `experiment` key names it.
///
/// Values are stored as `serde_json` serialises them (integers stay integers, `f64` stays
/// floating point, NaN becomes `null`), and the file is written pretty-printed with sorted
/// keys ([`ExperimentDir::write_json`]).
#[derive(Clone, Debug)]
pub struct Summary {
    map: Map<String, Value>,
}

impl Summary {
    /// A summary of experiment `experiment` (its only key so far).
    pub fn new(experiment: &str) -> Self {
        let mut map = Map::new();
        map.insert("experiment".into(), Value::from(experiment));
        Summary { map }
    }

    /// Sets `key` to `value`.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key` to `value` in place.
    pub fn set(&mut self, key: &str, value: impl Serialize) {
        // Serialising plain data (numbers, strings, vectors, maps with string keys) into a
        // `Value` cannot fail; a value that could is a programming error in the experiment.
        let v = serde_json::to_value(value).expect("summary values serialise to JSON");
        self.map.insert(key.to_string(), v);
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// The summary as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// Writes `summary.json` into `dir` and returns its path.
    pub fn write(&self, dir: &ExperimentDir) -> Result<PathBuf> {
        dir.write_json("summary.json", &self.to_value())
    }
}

/// `x` as text, or `none`.
pub fn or_none<T: ToString>(x: Option<T>) -> String {
    x.map_or_else(|| "none".into(), |v| v.to_string())
}

/// `xs` with `digits` significant digits ([`fmt_f`]), joined by ` / `.
pub fn joined(xs: &[f64], digits: usize) -> String {
    xs.iter()
        .map(|x| fmt_f(*x, digits))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// A share `x` (0–1) as a percentage with `decimals` decimals (`0.5`, 1 → `50.0 %`).
pub fn percent(x: f64, decimals: usize) -> String {
    format!("{:.*} %", decimals, 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_the_json_macro() {
        let built = Summary::new("e")
            .with("b", 1.8)
            .with("a", 10000)
            .with("n", f64::NAN)
            .with("o", None::<u32>)
            .with("v", vec![1.0, 2.5])
            .to_value();
        let by_macro = serde_json::json!({
            "experiment": "e", "b": 1.8, "a": 10000, "n": f64::NAN, "o": None::<u32>,
            "v": [1.0, 2.5],
        });
        assert_eq!(
            serde_json::to_string_pretty(&built).unwrap(),
            serde_json::to_string_pretty(&by_macro).unwrap()
        );
    }

    #[test]
    fn rows_and_formatters() {
        let dir = std::env::temp_dir().join(format!("memsnn-report-{}", std::process::id()));
        let d = ExperimentDir::create(&dir, "x").unwrap().commit().unwrap();
        let r = ExperimentReport::new("x", &d)
            .row("q (µs)", "5", or_none(Some(4)))
            .row("list", "falls", joined(&[1.0, 2.26], 2));
        assert_eq!(r.rows[0].cells(), ["x", "q (µs)", "5", "4"]);
        assert_eq!(r.rows[1].memsnn, "1 / 2.3");
        assert_eq!(or_none(None::<u32>), "none");
        assert_eq!(yes_no(false), "no");
        assert_eq!(percent(0.125, 1), "12.5 %");
        assert_eq!(percent(0.5, 0), "50 %");
        let t = paper_table(&r.rows);
        assert!(t.starts_with("experiment"), "{t}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
