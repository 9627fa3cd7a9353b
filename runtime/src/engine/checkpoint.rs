//! The state of a running network as data: what a checkpoint saves and a resumed run
//! restores.
//!
//! An executor's state between two runs is, on every executor, the same few things —
//! which is why a checkpoint written under one executor resumes under any other:
//!
//! * each component's state
//!   ([`Component::save_state`](crate::engine::component::Component::save_state): every
//!   field that can change while it runs, devices and their random streams included — a
//!   `ChaCha8Rng` saves its seed, stream and word position);
//! * each component's emission counter (`seq`, which numbers the events it sends) and the
//!   counter numbering injected events;
//! * the pending events (in any order: a batch is sorted by `(dst, src, seq)` before it is
//!   handled, so where an event waits does not matter);
//! * the current time and whether the components were started.
//!
//! That is all an executor keeps between runs (a sharded worker's round bounds and an
//! actor's buffers are empty then), so restoring it into a freshly built network of the
//! same topology continues the run exactly: the same events reach the same components in
//! the same order. Probe records are not part of it: whoever takes the checkpoint takes
//! the records first.
//!
//! Component states are [postcard](https://docs.rs/postcard) bytes: compact, and
//! floating-point values keep their exact bits (a text format would have to round-trip
//! infinities and every last digit).

use crate::engine::event::Event;
use crate::engine::network::Network;
use crate::engine::time::Ns;
use serde::{Deserialize, Serialize};

/// Why a state could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A component kind that does not save its state.
    #[error("component `{name}` (kind `{kind}`) cannot save its state")]
    Unsupported {
        /// The component's name in the network.
        name: String,
        /// Its kind.
        kind: &'static str,
    },
    /// An executor that cannot save or restore its state.
    #[error("the {0} executor cannot save or restore its state")]
    Executor(&'static str),
    /// The executor stopped for good (a zero-time loop): nothing to continue.
    #[error("the simulation has stopped: {0}")]
    Halted(String),
    /// Bytes that do not decode as the state they should hold.
    #[error("component `{name}`: its saved state does not decode ({message})")]
    Decode {
        /// The component's name in the network.
        name: String,
        /// What the decoder said.
        message: String,
    },
    /// A state made for another network.
    #[error("the saved state does not fit this network: {0}")]
    Mismatch(String),
}

/// An executor's state between runs (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecState {
    /// Current time, ns: every event before it was handled.
    pub now: Ns,
    /// Whether the components' `start` was called.
    pub started: bool,
    /// The counter numbering injected events.
    pub injected: u64,
    /// Each component's emission counter, by component id.
    pub seq: Vec<u64>,
    /// The pending events, sorted by [`Event::key`].
    pub pending: Vec<Event>,
    /// Events handled so far (a work counter).
    pub handled_events: u64,
    /// Each component's
    /// [`Component::save_state`](crate::engine::component::Component::save_state) bytes,
    /// by component id.
    pub components: Vec<Vec<u8>>,
}

impl ExecState {
    /// The state of `net`'s components with the executor's counters; `pending` is sorted
    /// here.
    pub fn capture(
        net: &Network,
        (now, started, injected, handled_events): (Ns, bool, u64, u64),
        seq: Vec<u64>,
        mut pending: Vec<Event>,
    ) -> Result<ExecState, StateError> {
        pending.sort_unstable_by_key(Event::key);
        let components = net
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.save_state().map_err(|e| match e {
                    StateError::Unsupported { kind, .. } => StateError::Unsupported {
                        name: net.names.get(i).cloned().unwrap_or_default(),
                        kind,
                    },
                    e => e,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ExecState {
            now,
            started,
            injected,
            seq,
            pending,
            handled_events,
            components,
        })
    }

    /// Checks that the state fits `net` (its size, and every pending event's
    /// destination), then restores every component of `net` from it.
    pub fn restore_components(&self, net: &mut Network) -> Result<(), StateError> {
        let n = net.len();
        if self.components.len() != n || self.seq.len() != n {
            return Err(StateError::Mismatch(format!(
                "it holds {} components, the network has {n}",
                self.components.len()
            )));
        }
        if let Some(ev) = self.pending.iter().find(|e| e.dst as usize >= n) {
            return Err(StateError::Mismatch(format!(
                "a pending event is for component #{}, the network has {n}",
                ev.dst
            )));
        }
        for (i, (c, bytes)) in net.components.iter_mut().zip(&self.components).enumerate() {
            c.load_state(bytes).map_err(|e| match e {
                StateError::Decode { message, .. } => StateError::Decode {
                    name: net.names.get(i).cloned().unwrap_or_default(),
                    message,
                },
                StateError::Unsupported { kind, .. } => StateError::Unsupported {
                    name: net.names.get(i).cloned().unwrap_or_default(),
                    kind,
                },
                e => e,
            })?;
        }
        Ok(())
    }
}

/// Appends one field of a component's state to `out` (used by
/// [`component_state!`](crate::component_state)): the fields one after the other are
/// the postcard encoding of the tuple of them.
pub fn encode_field<T: Serialize + ?Sized>(out: &mut Vec<u8>, field: &T) -> Result<(), StateError> {
    let bytes = postcard::to_allocvec(field).map_err(|e| StateError::Decode {
        name: String::new(),
        message: e.to_string(),
    })?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Decodes the next field of a component's state from `bytes`, leaving the rest there
/// (used by [`component_state!`](crate::component_state)).
pub fn decode_field<T: serde::de::DeserializeOwned>(bytes: &mut &[u8]) -> Result<T, StateError> {
    let (v, rest) = postcard::take_from_bytes(bytes).map_err(|e| StateError::Decode {
        name: String::new(),
        message: e.to_string(),
    })?;
    *bytes = rest;
    Ok(v)
}

/// The error for bytes left over after a component's last field.
pub fn check_consumed(bytes: &[u8]) -> Result<(), StateError> {
    if bytes.is_empty() {
        Ok(())
    } else {
        Err(StateError::Decode {
            name: String::new(),
            message: format!("{} bytes left over", bytes.len()),
        })
    }
}

/// Implements [`Component::save_state`](crate::engine::component::Component::save_state)
/// and [`Component::load_state`](crate::engine::component::Component::load_state) for a
/// struct: the fields listed first are saved, those after `keep` are left as built
/// (parameters fixed at construction). Every field must be named in one list — the macro
/// destructures the struct exhaustively, so a field added later fails to compile until it
/// is classified. An optional `after_load method` names a `&mut self` method called once
/// the fields are loaded (for a kept field derived from the saved ones).
///
/// ```ignore
/// impl Component for Column {
///     runtime::component_state!(Column { g, pattern } keep { params });
///     // ...
/// }
/// ```
#[macro_export]
macro_rules! component_state {
    ($ty:ident { $($f:ident),* $(,)? } keep { $($k:ident),* $(,)? } $(after_load $hook:ident)?) => {
        fn save_state(&self) -> Result<Vec<u8>, $crate::engine::checkpoint::StateError> {
            let $ty { $($f,)* $($k: _,)* } = self;
            let mut out = Vec::new();
            $($crate::engine::checkpoint::encode_field(&mut out, $f)?;)*
            Ok(out)
        }

        fn load_state(
            &mut self,
            mut bytes: &[u8],
        ) -> Result<(), $crate::engine::checkpoint::StateError> {
            {
                let $ty { $($f,)* $($k: _,)* } = &mut *self;
                $(*$f = $crate::engine::checkpoint::decode_field(&mut bytes)?;)*
            }
            $crate::engine::checkpoint::check_consumed(bytes)?;
            $(self.$hook();)?
            Ok(())
        }
    };
}

/// Whether every component of `net` can save its state (the first that cannot, as an
/// error) — checked before a run that will take checkpoints starts.
pub fn check_savable(net: &Network) -> Result<(), StateError> {
    for (i, c) in net.components.iter().enumerate() {
        if let Err(StateError::Unsupported { kind, .. }) = c.save_state() {
            return Err(StateError::Unsupported {
                name: net.names.get(i).cloned().unwrap_or_default(),
                kind,
            });
        }
    }
    Ok(())
}
