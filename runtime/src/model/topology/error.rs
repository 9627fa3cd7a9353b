//! What goes wrong with a topology and where: [`TopologyError`] for callers, [`Issue`] for
//! the checks, and [`located`], which turns issues into located messages
//! (`file:line:col: field `x`: what is wrong — hint: what to do`).

use devices::params::{FieldIndex, ParamError, Problem};
use std::path::Path;

/// Everything that can go wrong with a topology.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The topology or a file it names is invalid: one located problem per line, in the
    /// form `file:line:col: field `x`: what is wrong — hint: what to do`.
    #[error("{}", lines(.0))]
    Invalid(Vec<ParamError>),
    /// Building failed on a checked topology (a rule the checks should have enforced is
    /// missing).
    #[error(
        "cannot build topology `{topology}`: {message} — hint: run `memsnn validate` on the file"
    )]
    Build {
        /// The topology's name.
        topology: String,
        /// What is wrong.
        message: String,
    },
}

fn lines(errors: &[ParamError]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    all.join("\n")
}

impl TopologyError {
    /// Every problem, one per entry (nested lists flattened).
    pub fn problems(&self) -> Vec<&ParamError> {
        fn flat<'a>(e: &'a ParamError, out: &mut Vec<&'a ParamError>) {
            match e {
                ParamError::Many(v) => v.iter().for_each(|e| flat(e, out)),
                e => out.push(e),
            }
        }
        let mut out = Vec::new();
        if let TopologyError::Invalid(v) = self {
            v.iter().for_each(|e| flat(e, &mut out));
        }
        out
    }
}

/// A problem found outside ron's parser: in the topology file (located later by field
/// path) or in another file (already located there).
#[derive(Debug)]
pub enum Issue {
    /// A problem of the topology file, at a dotted field path such as `layers[1].from`.
    Here(Problem),
    /// A problem of a device or pattern file, with its own location.
    Elsewhere(ParamError),
    /// A problem of a file named at a dotted field path of the topology file (a device,
    /// pattern or saved-weights file): located in that file and at the naming field.
    Named {
        /// The naming field, e.g. `devices.ts` or `layers[2].initial`.
        field: String,
        /// The named file's problem, with its own location.
        error: Box<ParamError>,
    },
}

impl Issue {
    /// A problem of the topology file.
    pub fn here(field: impl Into<String>, message: impl Into<String>, hint: &str) -> Self {
        Issue::Here(Problem {
            field: field.into(),
            message: message.into(),
            hint: hint.to_string(),
        })
    }
}

/// Turns issues into a [`TopologyError`], locating topology problems in `source` (when
/// the text is at hand) at the closest enclosing key that is written in the file.
pub fn located(issues: Vec<Issue>, source: Option<&str>, origin: &Path) -> TopologyError {
    // Lexed once for all the issues: locating stays linear in the file's size.
    let index = source.filter(|_| !issues.is_empty()).map(FieldIndex::new);
    let pos = |field: &str| index.as_ref().and_then(|ix| ix.locate_dotted(field));
    let errors = issues
        .into_iter()
        .flat_map(|issue| match issue {
            Issue::Elsewhere(e) => vec![e],
            Issue::Named { field, error } => (*error).named_by(origin, pos(&field), &field),
            Issue::Here(Problem {
                field,
                message,
                hint,
            }) => {
                let pos = pos(&field);
                let num = |x: usize| u32::try_from(x).ok();
                vec![ParamError::Invalid {
                    path: origin.to_path_buf(),
                    line: pos.and_then(|p| num(p.0)),
                    col: pos.and_then(|p| num(p.1)),
                    field,
                    message,
                    hint,
                }]
            }
        })
        .collect();
    TopologyError::Invalid(errors)
}
