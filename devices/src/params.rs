//! Loading and validation of RON parameter files (device parameters, later topologies).
//!
//! A file is deserialized with ron into a struct with `#[serde(deny_unknown_fields)]`, then
//! checked by its [`Validate`] impl. Bad input never panics: it becomes a [`ParamError`] naming
//! the file, line and column, field, what is wrong and what to do, one problem per line:
//! ``ts.ron:12:5: field `d2d.mu0_cv`: must be finite and >= 0 (got NaN) — hint: ...``.

use ron::error::{Error as RonError, SpannedError};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Everything that can go wrong when loading a parameter file.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// The file could not be read.
    #[error("{}: cannot read the file ({source}) — hint: check that the path exists, is readable and holds UTF-8 text", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not valid RON for the expected type (as reported by ron).
    #[error("{}:{line}:{col}: {message} — hint: {hint}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// What is wrong (starting with "field `a.b`: " when the field is known).
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// The file parsed, but a value breaks a rule of its [`Validate`] impl.
    #[error("{}: {}{message} — hint: {hint}", loc(path, *line, *col), field_prefix(field))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the field's key, when it is written in the file.
        line: Option<u32>,
        /// 1-based column of the field's key, when it is written in the file.
        col: Option<u32>,
        /// Dotted field path, e.g. `d2d.mu0_cv` (empty for whole-file problems).
        field: String,
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// All the problems of one file, reported together (one per line).
    #[error("{}", lines(.0))]
    Many(Vec<ParamError>),
    /// A problem of a file named by another file, located at the naming field too: each
    /// line reads `naming.ron:L:C: field `f` names a file with a problem: <the problem>`.
    #[error("{}", named(path, *line, *col, field, inner))]
    Named {
        /// The naming file.
        path: PathBuf,
        /// 1-based line of the naming field, when it is written in the file.
        line: Option<u32>,
        /// 1-based column of the naming field, when it is written in the file.
        col: Option<u32>,
        /// Dotted path of the naming field, e.g. `devices.ts`.
        field: String,
        /// The problem of the named file, with its own location.
        inner: Box<ParamError>,
    },
}

impl ParamError {
    /// Every problem in `self`, each wrapped as named by `field` of the file `path` at
    /// (`line`, `col`) (one [`ParamError::Named`] per problem of a [`ParamError::Many`]).
    pub fn named_by(
        self,
        path: &Path,
        pos: Option<(usize, usize)>,
        field: &str,
    ) -> Vec<ParamError> {
        let num = |x: usize| u32::try_from(x).ok();
        let wrap = |inner: ParamError| ParamError::Named {
            path: path.to_path_buf(),
            line: pos.and_then(|p| num(p.0)),
            col: pos.and_then(|p| num(p.1)),
            field: field.to_string(),
            inner: Box::new(inner),
        };
        match self {
            ParamError::Many(v) => v
                .into_iter()
                .flat_map(|e| e.named_by(path, pos, field))
                .collect(),
            e => vec![wrap(e)],
        }
    }
}

fn named(
    path: &Path,
    line: Option<u32>,
    col: Option<u32>,
    field: &str,
    inner: &ParamError,
) -> String {
    let head = format!(
        "{}: {}names a file with a problem: ",
        loc(path, line, col),
        field_prefix(field)
    );
    let all: Vec<String> = inner
        .to_string()
        .lines()
        .map(|l| format!("{head}{l}"))
        .collect();
    all.join("\n")
}

fn loc(path: &Path, line: Option<u32>, col: Option<u32>) -> String {
    match (line, col) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", path.display()),
        _ => path.display().to_string(),
    }
}

fn field_prefix(field: &str) -> String {
    match field {
        "" => String::new(),
        f => format!("field `{f}`: "),
    }
}

fn lines(errors: &[ParamError]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    all.join("\n")
}

/// Formats a number for messages: plain in [1e-3, 1e6), scientific otherwise.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-3..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A type whose values can be checked after deserialization.
pub trait Validate {
    /// Records every violated rule in `v` (it does not stop at the first one).
    fn validate(&self, v: &mut Validator);
}

/// One violated rule, found by a [`Validator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted field path, e.g. `d2d.mu0_cv`.
    pub field: String,
    /// What is wrong, e.g. "must be finite and > 0 (got -1)".
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// Collects [`Problem`]s, with their field paths, while a [`Validate`] impl runs.
#[derive(Clone, Debug, Default)]
pub struct Validator {
    prefix: Vec<String>,
    problems: Vec<Problem>,
}

impl Validator {
    /// An empty validator at the root of a file.
    pub fn new() -> Self {
        Self::default()
    }

    fn rule(&mut self, name: &str, ok: bool, what: &str, x: f64, hint: &str) {
        let message = format!("must be {what} (got {})", num(x));
        self.check(name, ok, &message, hint);
    }

    /// `x` must be finite (neither NaN nor ±inf).
    pub fn finite(&mut self, name: &str, x: f64) {
        let hint = "replace it with an ordinary number: NaN and inf are not allowed";
        self.rule(name, x.is_finite(), "a finite number", x, hint);
    }

    /// `x` must be finite and > 0.
    pub fn positive(&mut self, name: &str, x: f64) {
        let hint = "use a positive number in the unit named by the field";
        self.rule(name, x.is_finite() && x > 0.0, "finite and > 0", x, hint);
    }

    /// `x` must be finite and >= 0.
    pub fn non_negative(&mut self, name: &str, x: f64) {
        let hint = "use zero or a positive number in the unit named by the field";
        self.rule(name, x.is_finite() && x >= 0.0, "finite and >= 0", x, hint);
    }

    /// `x` must be finite and < 0 (e.g. a RESET threshold voltage).
    pub fn negative(&mut self, name: &str, x: f64) {
        let hint = "use a negative number (with its `-` sign) in the unit named by the field";
        self.rule(name, x.is_finite() && x < 0.0, "finite and < 0", x, hint);
    }

    /// `x` must be finite and within `[lo, hi]` (inclusive).
    pub fn in_range(&mut self, name: &str, x: f64, lo: f64, hi: f64) {
        let ok = x.is_finite() && lo <= x && x <= hi;
        let what = format!("finite and within [{}, {}]", num(lo), num(hi));
        let hint = format!("use a value between {} and {}", num(lo), num(hi));
        self.rule(name, ok, &what, x, &hint);
    }

    /// `a` must be less than `b`; a violation is recorded on `name_a`. Non-finite values
    /// are left to the other rules (pair this with `finite` or `positive`).
    pub fn less_than(&mut self, name_a: &str, a: f64, name_b: &str, b: f64) {
        let message = format!("must be less than `{name_b}` ({} >= {})", num(a), num(b));
        let hint = format!("make `{name_a}` smaller than `{name_b}` (check units and order)");
        let ok = !(a.is_finite() && b.is_finite()) || a < b;
        self.check(name_a, ok, &message, &hint);
    }

    /// A custom rule: records `message` and `hint` on `name` unless `ok`.
    pub fn check(&mut self, name: &str, ok: bool, message: &str, hint: &str) {
        if !ok {
            let mut field = self.prefix.join(".");
            if !field.is_empty() && !name.is_empty() {
                field.push('.');
            }
            field.push_str(name);
            let (message, hint) = (message.to_string(), hint.to_string());
            self.problems.push(Problem {
                field,
                message,
                hint,
            });
        }
    }

    /// Runs `f` with `name` appended to the field path (`d2d`, then `mu0_cv` in `f`, gives
    /// `d2d.mu0_cv`). Use `name[3]` for the fourth element of a list.
    pub fn nested(&mut self, name: &str, f: impl FnOnce(&mut Validator)) {
        self.prefix.push(name.to_string());
        f(self);
        self.prefix.pop();
    }

    /// The problems recorded so far.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// A token of RON text outside comments. `kind` is `'a'` for an identifier, `'"'` for a
/// literal (string, char, number) and the character itself for punctuation; `depth` counts
/// the enclosing brackets; `text` is only kept for identifiers.
struct Tok {
    kind: char,
    text: String,
    line: usize,
    col: usize,
    depth: usize,
}

/// Splits RON text into tokens, skipping whitespace, (nested) comments and string contents.
fn lex(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let (mut pos, mut line, mut col) = (Vec::with_capacity(s.len()), 1, 1);
    for &ch in &s {
        pos.push((line, col));
        (line, col) = if ch == '\n' {
            (line + 1, 1)
        } else {
            (line, col + 1)
        };
    }
    let at = |k: usize| s.get(k).copied().unwrap_or('\0');
    let (mut i, mut depth, mut toks) = (0, 0usize, Vec::new());
    while i < s.len() {
        let (start, ch, mut kind) = (i, s[i], '"');
        let r = i + usize::from(ch == 'b');
        let hashes = match at(r) {
            'r' => (r + 1..s.len()).take_while(|&k| s[k] == '#').count(),
            _ => 0,
        };
        if ch.is_whitespace() {
            i += 1;
            continue;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
            continue;
        } else if ch == '/' && at(i + 1) == '*' {
            let mut level = 0;
            while i < s.len() {
                match (s[i], at(i + 1)) {
                    ('/', '*') => (level, i) = (level + 1, i + 1),
                    ('*', '/') => (level, i) = (level - 1, i + 1),
                    _ => {}
                }
                i += 1;
                if level == 0 {
                    break;
                }
            }
            continue;
        } else if at(r) == 'r' && at(r + 1 + hashes) == '"' {
            // Raw string `r#"..."#`: ends at a `"` followed by as many `#`.
            i = r + 2 + hashes;
            while i < s.len() && !(s[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#')) {
                i += 1;
            }
            i += 1 + hashes;
        } else if ch == '"' || ch == '\'' {
            i += 1;
            while i < s.len() && s[i] != ch {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let number = ch.is_ascii_digit();
            let word = |c: char| c.is_alphanumeric() || c == '_' || (number && c == '.');
            while i < s.len() && word(s[i]) {
                i += 1;
            }
            kind = if number { '"' } else { 'a' };
        } else {
            (i, kind) = (i + 1, ch);
            if matches!(ch, ')' | ']' | '}') {
                depth = depth.saturating_sub(1);
            }
        }
        let text = if kind == 'a' {
            s[start..i].iter().collect()
        } else {
            String::new()
        };
        let (line, col) = pos[start];
        toks.push(Tok {
            kind,
            text,
            line,
            col,
            depth,
        });
        if matches!(kind, '(' | '[' | '{') {
            depth += 1;
        }
    }
    toks
}

/// The keys of one RON text, lexed once, so that locating many fields costs one pass over
/// the text plus a little per field (validation of a file with thousands of problems stays
/// linear in its size, instead of lexing the whole file again for each message).
pub struct FieldIndex {
    toks: Vec<Tok>,
    /// `stop[i]`: the first token at or after `i` that ends a value starting at `i` (a `,`
    /// at the same depth, or any token at a smaller depth); `toks.len()` if none.
    stop: Vec<usize>,
    /// Identifier tokens followed by `:` (keys), by name, in file order.
    keys: HashMap<String, Vec<usize>>,
}

impl FieldIndex {
    /// Lexes `source` once.
    pub fn new(source: &str) -> Self {
        let toks = lex(source);
        let mut stop = vec![toks.len(); toks.len()];
        // Tokens whose stop is not found yet, by non-decreasing depth.
        let mut pending: Vec<usize> = Vec::new();
        for (j, t) in toks.iter().enumerate() {
            while let Some(&i) = pending.last() {
                let d = toks[i].depth;
                if d > t.depth || (d == t.depth && t.kind == ',') {
                    stop[i] = j;
                    pending.pop();
                } else {
                    break;
                }
            }
            if t.kind == ',' {
                stop[j] = j;
            } else {
                pending.push(j);
            }
        }
        let mut keys: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in toks.iter().enumerate() {
            if t.kind == 'a' && toks.get(i + 1).is_some_and(|n| n.kind == ':') {
                keys.entry(t.text.clone()).or_default().push(i);
            }
        }
        FieldIndex { toks, stop, keys }
    }

    /// End (exclusive) of the value starting at `lo` whose key sits at depth `d`, within
    /// `..hi`.
    fn end(&self, lo: usize, hi: usize, d: usize) -> usize {
        match self.toks.get(lo) {
            Some(t) if lo < hi && t.depth == d => self.stop[lo].min(hi),
            _ => {
                let stop = |t: &Tok| t.depth < d || (t.depth == d && t.kind == ',');
                (lo..hi).find(|&i| stop(&self.toks[i])).unwrap_or(hi)
            }
        }
    }

    /// The 1-based (line, column) of a field key, as [`locate_field`] finds it.
    pub fn locate(&self, path: &[&str]) -> Option<(usize, usize)> {
        let toks = &self.toks;
        let (mut lo, mut hi, mut found) = (0, toks.len(), None);
        for seg in path {
            let (key, index) = match seg.split_once('[') {
                Some((k, rest)) => (k, Some(rest.trim_end_matches(']').trim().parse().ok()?)),
                None => (*seg, None),
            };
            let all = self.keys.get(key)?;
            let from = all.partition_point(|&i| i < lo);
            let keys = all[from..].iter().copied().take_while(|&i| i < hi);
            let k = keys.min_by_key(|&i| toks[i].depth)?;
            let d = toks[k].depth;
            (lo, hi, found) = (
                k + 2,
                self.end(k + 2, hi, d),
                Some((toks[k].line, toks[k].col)),
            );
            if let Some(n) = index {
                if toks.get(lo).map(|t| t.kind) != Some('[') || lo >= hi {
                    return None;
                }
                lo += 1;
                for _ in 0..n {
                    lo = self.end(lo, hi, d + 1) + 1;
                    if lo >= hi {
                        return None;
                    }
                }
                hi = self.end(lo.min(hi), hi, d + 1);
                if lo >= hi {
                    return None;
                }
                found = Some((toks[lo].line, toks[lo].col));
            }
        }
        found
    }

    /// [`Self::locate`] for a dotted field path (`layers[1].from`), falling back to the
    /// closest enclosing key written in the file.
    pub fn locate_dotted(&self, field: &str) -> Option<(usize, usize)> {
        let segs: Vec<&str> = field.split('.').filter(|s| !s.is_empty()).collect();
        (1..=segs.len()).rev().find_map(|n| self.locate(&segs[..n]))
    }
}

/// Finds the 1-based (line, column) of a field key in RON text, following `path`
/// (e.g. `["d2d", "mu0_cv"]`): each key is looked up as a whole identifier followed by `:`,
/// outside comments and strings, within the value of the previous key, preferring the
/// outermost match. A segment `name[i]` descends into element `i` of a list. Returns the
/// position of the last key, or `None` when a key is missing. Never panics. To locate many
/// fields of one text, build a [`FieldIndex`] once.
pub fn locate_field(source: &str, path: &[&str]) -> Option<(usize, usize)> {
    FieldIndex::new(source).locate(path)
}

/// The keys (with their depths) enclosing position (line, col), and the depth there.
fn context(toks: &[Tok], line: usize, col: usize) -> (Vec<(usize, &str)>, usize) {
    let mut keys: Vec<(usize, &str)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        keys.retain(|&(d, _)| d <= t.depth);
        if (t.line, t.col) >= (line, col) {
            return (keys, t.depth);
        }
        if t.kind == 'a' && toks.get(i + 1).is_some_and(|n| n.kind == ':') {
            keys.retain(|&(d, _)| d < t.depth);
            keys.push((t.depth, &t.text));
        }
    }
    (keys, usize::MAX)
}

const UNCLOSED: &str = "add the missing `)` or `]`, and check that the file is complete";

/// Plain-language (what, hint) for ron errors that are not about a named field.
fn explain(code: &RonError, unclosed: bool) -> (&'static str, &'static str) {
    match code {
        RonError::ExpectedFloat => ("expected a number", "write e.g. `1.5` or `2.0e-6`"),
        RonError::ExpectedInteger => ("expected a whole number", "write e.g. `3`, without `.`"),
        RonError::IntegerOutOfBounds => ("integer out of range", "use a non-negative integer"),
        RonError::ExpectedString => ("expected a string", "write text in quotes: `\"HfO2\"`"),
        RonError::ExpectedStringEnd => ("unclosed string", "end the text with `\"`"),
        RonError::ExpectedBoolean => ("expected a boolean", "write `true` or `false`"),
        RonError::ExpectedStructLike | RonError::ExpectedNamedStructLike(_) => (
            "expected a struct",
            "write its fields in parentheses: `(a: 1.0, b: 2)`",
        ),
        RonError::TrailingCharacters => (
            "unexpected text after the end of the value",
            "remove it; check for an extra `)` that closes the struct too early",
        ),
        RonError::UnclosedBlockComment => ("unclosed `/*` comment", "end it with `*/`"),
        RonError::ExpectedMapColon => ("expected `:`", "write each field as `name: value`"),
        RonError::Eof | RonError::ExpectedComma if unclosed => ("a `(` is never closed", UNCLOSED),
        RonError::ExpectedStructLikeEnd | RonError::ExpectedArrayEnd => ("expected `)`", UNCLOSED),
        RonError::Eof => ("the file ends too early", "check that the file is complete"),
        RonError::ExpectedComma => (
            "expected `,`",
            "separate fields with `,` (integers take no `.`)",
        ),
        _ => ("", "check the RON syntax at this position"),
    }
}

/// Turns ron's error into a `Syntax` error with a plain-language message and hint.
fn syntax_error(e: &SpannedError, source: &str, path: &Path) -> ParamError {
    let (line, col) = (e.span.start.line, e.span.start.col);
    let toks = lex(source);
    let (keys, depth) = context(&toks, line, col);
    let join = |ks: &[(usize, &str)], last: &str| {
        let names = ks.iter().map(|k| k.1).chain([last]);
        names
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    };
    let parent: Vec<_> = keys.iter().copied().filter(|k| k.0 < depth).collect();
    let bracket = |t: &Tok| match t.kind {
        '(' | '[' | '{' => 1,
        ')' | ']' | '}' => -1,
        _ => 0,
    };
    let unclosed = toks.iter().map(bracket).sum::<isize>() > 0;
    let (field, what, hint) = match &e.code {
        RonError::NoSuchStructField {
            expected, found, ..
        } => {
            let list: Vec<String> = expected.iter().map(|x| format!("`{x}`")).collect();
            let mut hint = format!("check the spelling; expected one of {}", list.join(", "));
            if !parent.is_empty() {
                hint += " (or is a `)` missing before it?)";
            }
            (join(&parent, found), "unknown field".into(), hint)
        }
        RonError::MissingStructField { field, .. } => {
            let hint = format!("add `{field}: <value>`");
            (join(&keys, field), "missing".into(), hint)
        }
        RonError::DuplicateStructField { field, .. } => {
            let hint = "remove one of the two entries".into();
            (join(&keys, field), "given twice".into(), hint)
        }
        RonError::ExpectedDifferentStructName { expected, found } => {
            let hint = format!("write `{expected}(...)` or just `(...)`");
            (String::new(), format!("wrong struct name `{found}`"), hint)
        }
        code => match explain(code, unclosed) {
            ("", hint) => (join(&keys, ""), code.to_string(), hint.into()),
            (what, hint) => (join(&keys, ""), what.into(), hint.into()),
        },
    };
    let message = format!("{}{what}", field_prefix(&field));
    let (path, hint) = (path.to_path_buf(), hint);
    ParamError::Syntax {
        path,
        line,
        col,
        message,
        hint,
    }
}

/// Parses RON text into `T` (with `implicit_some`, so optional fields need no `Some(...)`),
/// then validates it. `origin` only names the file in errors. All validation problems are
/// reported together: [`ParamError::Invalid`] for one, [`ParamError::Many`] for several.
pub fn parse_ron<T: DeserializeOwned + Validate>(
    source: &str,
    origin: &Path,
) -> Result<T, ParamError> {
    let ext = ron::extensions::Extensions::IMPLICIT_SOME;
    let options = ron::Options::default().with_default_extension(ext);
    let value: T = options
        .from_str(source)
        .map_err(|e| syntax_error(&e, source, origin))?;
    let mut v = Validator::new();
    value.validate(&mut v);
    let mut errors: Vec<ParamError> = Vec::new();
    let index = (!v.problems.is_empty()).then(|| FieldIndex::new(source));
    for Problem {
        field,
        message,
        hint,
    } in v.problems
    {
        // Falls back to the closest enclosing key written in the file.
        let pos = index.as_ref().and_then(|ix| ix.locate_dotted(&field));
        let num = |x: usize| u32::try_from(x).ok();
        let (line, col) = (pos.and_then(|p| num(p.0)), pos.and_then(|p| num(p.1)));
        let path = origin.to_path_buf();
        errors.push(ParamError::Invalid {
            path,
            line,
            col,
            field,
            message,
            hint,
        });
    }
    match errors.len() {
        0 => Ok(value),
        1 => Err(errors.remove(0)),
        _ => Err(ParamError::Many(errors)),
    }
}

/// Largest device, circuit or protocol parameter file read, bytes (the shipped ones are
/// a few kB).
pub const MAX_PARAM_FILE_BYTES: u64 = 4 << 20;

/// Reads the file at `path` as UTF-8 text, refusing before reading what is not a regular
/// file (a device such as `/dev/zero`, a pipe, a folder) or is larger than `max_bytes`, and
/// reading at most `max_bytes + 1` bytes whatever the file claims. Text that is not UTF-8
/// is a [`ParamError::Syntax`] at the line and column of its first bad byte.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, ParamError> {
    let io = |source| ParamError::Io {
        path: path.to_path_buf(),
        source,
    };
    let whole = |message: String, hint: &str| ParamError::Invalid {
        path: path.to_path_buf(),
        line: None,
        col: None,
        field: String::new(),
        message,
        hint: hint.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(whole(
            "is not a regular file (a folder, device or pipe)".into(),
            "name a RON text file",
        ));
    }
    let too_large = |bytes: String| {
        whole(
            format!(
                "is {bytes}, more than the {} this kind of file may have",
                size(max_bytes)
            ),
            "check that the path names the intended file (these files are text of a few kB \
             to MB); split or shrink it",
        )
    };
    if meta.len() > max_bytes {
        return Err(too_large(size(meta.len())));
    }
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large("larger than its size says".into()));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The prefix before the bad byte is valid UTF-8.
        let prefix = std::str::from_utf8(&bytes[..good]).unwrap_or("");
        let line = prefix.matches('\n').count() + 1;
        let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParamError::Syntax {
            path: path.to_path_buf(),
            line,
            col,
            message: format!(
                "not UTF-8 text: byte 0x{:02X} (byte offset {good}) starts no UTF-8 character",
                bytes[good]
            ),
            hint: "save the file as UTF-8 text (RON files are text)".into(),
        }
    })
}

/// A byte count for messages: `512 B`, `4.0 MiB`, `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut x, mut u) = (bytes as f64, 0);
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// Reads the RON file at `path` (at most [`MAX_PARAM_FILE_BYTES`]) and [`parse_ron`]s it;
/// [`ParamError::Io`] if unreadable.
pub fn load_ron<T: DeserializeOwned + Validate>(path: &Path) -> Result<T, ParamError> {
    load_ron_within(path, MAX_PARAM_FILE_BYTES)
}

/// [`load_ron`] for files of at most `max_bytes` (see [`read_text`]).
pub fn load_ron_within<T: DeserializeOwned + Validate>(
    path: &Path,
    max_bytes: u64,
) -> Result<T, ParamError> {
    parse_ron(&read_text(path, max_bytes)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Spread {
        mu0_cv: f64,
        n: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Dev {
        name: String,
        g_min: f64,
        g_max: f64,
        d2d: Spread,
        note: Option<String>,
        v_reset: Option<f64>,
    }

    impl Validate for Dev {
        fn validate(&self, v: &mut Validator) {
            v.positive("g_min", self.g_min);
            v.positive("g_max", self.g_max);
            v.less_than("g_min", self.g_min, "g_max", self.g_max);
            v.nested("d2d", |v| v.non_negative("mu0_cv", self.d2d.mu0_cv));
            v.negative("v_reset", self.v_reset.unwrap_or(-1.0));
            let named = !self.name.is_empty();
            v.check("name", named, "must not be empty", "name the device");
        }
    }

    const GOOD: &str = "// device (g_min: 1.0 in a comment)\nDev(\n    name: \"a /* b\",\n    \
        g_min: 1.0e-6,\n    g_max: 2.0e-6,\n    d2d: (mu0_cv: 0.1, n: 3),\n    v_reset: -1.2,\n)\n";

    fn parse(src: &str) -> Result<Dev, ParamError> {
        parse_ron(src, Path::new("dev.ron"))
    }

    /// Replaces `from` by `to` in `GOOD`: parsing must fail with `start`, mentioning `part`.
    fn fails(from: &str, to: &str, start: &str, part: &str) {
        let e = parse(&GOOD.replace(from, to)).expect_err(to).to_string();
        assert!(e.starts_with(start) && e.contains(part), "{e}");
    }

    #[test]
    fn good_file_parses() {
        let d = parse(GOOD).unwrap();
        assert_eq!((d.d2d.n, d.v_reset, d.note), (3, Some(-1.2), None));
        let d = parse(&GOOD.replace("v_reset", "note: \"x\", v_reset")).unwrap();
        assert_eq!(d.note.as_deref(), Some("x"));
    }

    #[test]
    fn syntax_errors_are_explained() {
        // Each case: replace|by|the message starts with|and contains.
        for case in [
            ", n: 3||dev.ron:6:22: field `d2d.n`: missing|hint: add `n: <value>`",
            "g_max|g_mxa|dev.ron:5:5: field `g_mxa`: unknown field|`g_min`, `g_max`, `d2d`, `note`",
            "1.0e-6|\"1\"|dev.ron:4:11: field `g_min`: expected a number|`1.5`",
            "n: 3|n: -3|dev.ron:6:28: field `d2d.n`: integer out of range|",
            "3)|3|dev.ron:7:5: field `d2d.v_reset`: unknown|is a `)` missing",
            ",\n)|,\n|dev.ron:|never closed — hint: add the missing `)`",
            "2,\n)|2,\n))|dev.ron:8:2: unexpected text|extra `)`",
            "Dev(|Ved(|dev.ron:2:1: wrong struct name `Ved`|`Dev(...)`",
        ] {
            let f: Vec<&str> = case.split('|').collect();
            fails(f[0], f[1], f[2], f[3]);
        }
    }

    #[test]
    fn validation_problems_are_located() {
        let e = parse(&GOOD.replace("0.1", "NaN")).unwrap_err().to_string();
        let want = "dev.ron:6:11: field `d2d.mu0_cv`: must be finite and >= 0 (got NaN) — hint: \
            use zero or a positive number in the unit named by the field";
        assert_eq!(e, want);
        let start = "dev.ron:5:5: field `g_max`: must be finite and > 0 (got -2e-6)";
        fails("2.0e-6", "-2e-6", start, "hint: use a positive number");
        let start = "dev.ron:4:5: field `g_min`: must be less than `g_max` (1e-6 >= 5e-7)";
        fails("2.0e-6", "0.5e-6", start, "hint: make `g_min` smaller");
        let src = GOOD.replace("-1.2", "1.2").replace("0.1", "-0.1");
        let e = parse(&src.replace("a /* b", "")).unwrap_err();
        assert!(matches!(&e, ParamError::Many(l) if l.len() == 3), "{e}");
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("dev.ron:6:11: field `d2d.mu0_cv`: must be"));
        assert!(lines[1].starts_with("dev.ron:7:5: field `v_reset`: must be finite and < 0"));
        assert!(lines[2].starts_with("dev.ron:3:5: field `name`: must not be empty"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = load_ron::<Dev>(Path::new("/no/such/dir/dev.ron")).unwrap_err();
        assert!(matches!(e, ParamError::Io { .. }));
        let want = "/no/such/dir/dev.ron: cannot read the file";
        assert!(e.to_string().starts_with(want), "{e}");
    }

    #[test]
    fn locate_field_follows_paths() {
        assert_eq!(locate_field(GOOD, &["g_min"]), Some((4, 5)));
        assert_eq!(locate_field(GOOD, &["d2d", "n"]), Some((6, 24)));
        assert_eq!(locate_field(GOOD, &["n"]), Some((6, 24)));
        for missing in [
            &["d2d", "g_min"][..],
            &["x"],
            &["g"],
            &["b"],
            &["d2d[0]"],
            &[],
        ] {
            assert_eq!(locate_field(GOOD, missing), None, "{missing:?}");
        }
        assert_eq!(locate_field("", &["a"]), None);
        let src = "/* a: /* nested a: */ a: */ ( x_a: 1, r#a: [ (b: 1), (b: 2, c: r#\"a: \"#) ] )";
        assert_eq!(locate_field(src, &["a"]), Some((1, 41)));
        assert_eq!(locate_field(src, &["a[1]"]), Some((1, 54)));
        assert_eq!(locate_field(src, &["a[1]", "b"]), Some((1, 55)));
        assert_eq!(locate_field(src, &["a[2]"]), None);
        assert_eq!(locate_field(src, &["c"]), Some((1, 61)));
    }

    /// The location rule written directly (one scan per key, as before the index): the
    /// index must agree with it.
    fn locate_naive(source: &str, path: &[&str]) -> Option<(usize, usize)> {
        let toks = lex(source);
        let end = |lo: usize, hi: usize, d: usize| {
            let stop = |t: &Tok| t.depth < d || (t.depth == d && t.kind == ',');
            (lo..hi).find(|&i| stop(&toks[i])).unwrap_or(hi)
        };
        let (mut lo, mut hi, mut found) = (0, toks.len(), None);
        for seg in path {
            let (key, index) = match seg.split_once('[') {
                Some((k, rest)) => (k, Some(rest.trim_end_matches(']').trim().parse().ok()?)),
                None => (*seg, None),
            };
            let is_key = |&i: &usize| toks[i].kind == 'a' && toks[i].text == key;
            let keys = (lo..hi)
                .filter(is_key)
                .filter(|&i| toks.get(i + 1).is_some_and(|t| t.kind == ':'));
            let k = keys.min_by_key(|&i| toks[i].depth)?;
            let d = toks[k].depth;
            (lo, hi, found) = (k + 2, end(k + 2, hi, d), Some((toks[k].line, toks[k].col)));
            if let Some(n) = index {
                if toks.get(lo).map(|t| t.kind) != Some('[') {
                    return None;
                }
                lo += 1;
                for _ in 0..n {
                    lo = end(lo, hi, d + 1) + 1;
                }
                hi = end(lo.min(hi), hi, d + 1);
                if lo >= hi {
                    return None;
                }
                found = Some((toks[lo].line, toks[lo].col));
            }
        }
        found
    }

    #[test]
    fn the_index_locates_as_the_rule_says() {
        let lists = "( a: [ (b: 1, c: [2, 3]), (b: 4), [], (c: [ (b: 5) ]) ], d: (a: [6]) )";
        let paths: [&[&str]; 12] = [
            &["a"],
            &["a[0]", "b"],
            &["a[1]", "b"],
            &["a[3]", "c[0]", "b"],
            &["a[0]", "c[1]"],
            &["a[2]"],
            &["a[4]"],
            &["d", "a[0]"],
            &["b"],
            &["c"],
            &["d2d", "mu0_cv"],
            &["g_max"],
        ];
        for (i, _) in GOOD.char_indices().chain(lists.char_indices()) {
            for src in [GOOD, lists] {
                let Some(head) = src.get(..i) else { continue };
                let tail: String = src[i..].chars().skip(1).collect();
                for m in ["", "(", ")", ",", "[", "]", ":"] {
                    let s = format!("{head}{m}{tail}");
                    let index = FieldIndex::new(&s);
                    for p in paths {
                        assert_eq!(index.locate(p), locate_naive(&s, p), "{s} {p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn mangled_files_never_panic() {
        let mut n = 0;
        for (i, _) in GOOD.char_indices() {
            let (head, tail) = (&GOOD[..i], GOOD[i..].chars().skip(1).collect::<String>());
            assert!(parse(head).is_err() || head.ends_with(')'));
            for m in ["(", ")", ",", ":", "\"", "/*", "r#\"", "NaN", "-", "é", ""] {
                let s = format!("{head}{m}{tail}");
                if let Err(e) = parse(&s) {
                    assert!(e.to_string().starts_with("dev.ron"), "{e}");
                }
                let at = locate_field(&s, &["d2d", "mu0_cv"]);
                assert!(!matches!(at, Some((line, _)) if line > 9));
                n += 1;
            }
        }
        assert!(n > 1000);
    }
}
