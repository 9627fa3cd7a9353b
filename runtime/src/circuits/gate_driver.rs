//! Gate driver of a supervised layer: holds its gate lines at levels set by the protocol
//! (the paper's layer-2 training: the target neuron's column gates at 3.0 V, the others
//! grounded; all at 3.0 V for inference).
//!
//! Ports — in: [`IN_CONTROL`] ([`Control::Gates`]); out: port `j` drives gate line `j`.

use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, Payload, Port};
use std::any::Any;

/// Input: protocol commands.
pub const IN_CONTROL: Port = 0;

/// A gate driver for `n` gate lines.
#[derive(Clone, Debug)]
pub struct GateDriver {
    levels: Vec<f32>,
}

impl GateDriver {
    /// `n` gate lines, all starting at `initial_volts`.
    pub fn new(n: usize, initial_volts: f32) -> Self {
        GateDriver {
            levels: vec![initial_volts; n],
        }
    }

    /// Present levels, volts.
    pub fn levels(&self) -> &[f32] {
        &self.levels
    }
}

impl Component for GateDriver {
    crate::component_state!(GateDriver {
        levels
    } keep {  });

    fn kind(&self) -> &'static str {
        "gate_driver"
    }

    fn start(&mut self, ctx: &mut Ctx) {
        for (j, &v) in self.levels.iter().enumerate() {
            ctx.emit(j as Port, Payload::Gate { volts: v });
        }
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        if let Payload::Control(Control::Gates(levels)) = &ev.payload {
            for (j, &v) in levels.iter().enumerate().take(self.levels.len()) {
                if self.levels[j] != v {
                    self.levels[j] = v;
                    ctx.emit(j as Port, Payload::Gate { volts: v });
                }
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
