//! Input generator: turns a binary pattern (pixels) into pulse trains aligned to the clock —
//! black pixels pulse at the input amplitude in every CLK-high phase, white ones are
//! grounded — with optional noise pixels flipped at random.
//!
//! Ports — in: [`IN_CONTROL`]; out: [`OUT_LINES`] (a [`Payload::Pattern`] to every column
//! of the layer).

use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, Payload, Port};
use crate::engine::time::{Clock, Ns};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::sync::Arc;

/// Input: protocol commands.
pub const IN_CONTROL: Port = 0;
/// Output: the line pattern.
pub const OUT_LINES: Port = 0;

/// An input generator for `lines` input lines.
#[derive(Clone, Debug)]
pub struct InputGenerator {
    lines: usize,
    amplitude_volts: f32,
    pending: Option<Arc<[f32]>>,
    current: Option<Arc<[f32]>>,
    rng: ChaCha8Rng,
    presented: u64,
    /// When the current pattern was applied (a CLK rising edge), ns.
    applied_at: Ns,
    /// Pulsing lines of the current pattern.
    on_lines: u64,
    /// Line pulses of the patterns before the current one.
    pulses_before: u64,
}

impl InputGenerator {
    /// A generator for `lines` lines pulsing at `amplitude_volts`; `seed` keys its noise.
    pub fn new(lines: usize, amplitude_volts: f32, seed: u64) -> Self {
        InputGenerator {
            lines,
            amplitude_volts,
            pending: None,
            current: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            presented: 0,
            applied_at: 0,
            on_lines: 0,
            pulses_before: 0,
        }
    }

    /// The amplitudes currently applied (one per line), if any.
    pub fn current(&self) -> Option<&[f32]> {
        self.current.as_deref()
    }

    /// Number of patterns presented so far.
    pub fn presented(&self) -> u64 {
        self.presented
    }

    /// Line pulses emitted before `now` (one per pulsing line per CLK-high phase that has
    /// begun): the input spikes of the pulse-train view of the input layer, as counted by
    /// spiking simulators.
    pub fn line_pulses(&self, clock: &Clock, now: Ns) -> u64 {
        self.pulses_before + self.on_lines * Self::rising_edges(clock, self.applied_at, now)
    }

    /// CLK rising edges in `[from, to)`.
    fn rising_edges(clock: &Clock, from: Ns, to: Ns) -> u64 {
        let first = clock.rising_at_or_after(from);
        if to <= first {
            0
        } else {
            (to - first).div_ceil(clock.period_ns)
        }
    }

    fn amplitudes(&mut self, pixels: &[bool], flips: u32) -> Arc<[f32]> {
        let mut px: Vec<bool> = pixels.to_vec();
        px.resize(self.lines, false);
        let k = (flips as usize).min(self.lines);
        if k > 0 {
            for i in sample(&mut self.rng, self.lines, k) {
                px[i] = !px[i];
            }
        }
        px.iter()
            .map(|&b| if b { self.amplitude_volts } else { 0.0 })
            .collect()
    }

    fn schedule(&mut self, p: Arc<[f32]>, ctx: &mut Ctx) {
        let at = ctx.clock().rising_at_or_after(ctx.now());
        if at == ctx.now() {
            self.apply(p, ctx);
        } else {
            self.pending = Some(p);
            ctx.wake_at(at, 0);
        }
    }

    fn apply(&mut self, p: Arc<[f32]>, ctx: &mut Ctx) {
        let now = ctx.now();
        self.pulses_before = self.line_pulses(ctx.clock(), now);
        self.applied_at = now;
        self.on_lines = p.iter().filter(|&&a| a > 0.0).count() as u64;
        self.current = Some(p.clone());
        self.presented += 1;
        ctx.emit(OUT_LINES, Payload::Pattern(p));
    }
}

impl Component for InputGenerator {
    fn kind(&self) -> &'static str {
        "input"
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        match &ev.payload {
            Payload::Wake { .. } => {
                if let Some(p) = self.pending.take() {
                    self.apply(p, ctx);
                }
            }
            Payload::Control(Control::Present { pixels, flips }) => {
                let p = self.amplitudes(pixels, *flips);
                self.schedule(p, ctx);
            }
            Payload::Control(Control::Stop) => {
                let p: Arc<[f32]> = vec![0.0; self.lines].into();
                self.schedule(p, ctx);
            }
            Payload::Control(Control::Amplitude(v)) => self.amplitude_volts = *v,
            _ => {}
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
