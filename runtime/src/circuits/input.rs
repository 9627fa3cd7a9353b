//! Input generator: turns a binary pattern (pixels) into pulse trains aligned to the clock —
//! black pixels pulse at the input amplitude in every CLK-high phase, white ones are
//! grounded — with optional noise pixels flipped at random.
//!
//! **Bernoulli-gated pulses** ([`InputGenerator::with_pulse_prob`]): with a pulse
//! probability `P < 1` each black pixel's line pulses in a CLK period with probability
//! `P`, independently per line and period (a rate-coded input whose periods all differ).
//! The generator then emits one pattern per CLK period, at its rising edge, drawing the
//! gates in line order from its own stream (keyed by its seed), so the gates are the same
//! on every executor.
//!
//! Ports — in: [`IN_CONTROL`]; out: [`OUT_LINES`] (a [`Payload::Pattern`] to every column
//! of the layer).

use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, LinePattern, Payload, Port};
use crate::engine::time::{Clock, Ns};
use devices::variability::key;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
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
    /// Line pulses of the patterns before the current one (with gated pulses: of the
    /// periods before the last emitted one).
    pulses_before: u64,
    /// Probability that a pulse is kept (1: every period, no gating).
    pulse_prob: f64,
    /// The gates' random stream (drawn only when `pulse_prob < 1`).
    gate_rng: ChaCha8Rng,
    /// With gated pulses: the next rising edge at which a gated pattern is due.
    next_period: Option<Ns>,
    /// With gated pulses: when the last gated pattern was emitted and its pulses.
    last_period: Option<(Ns, u64)>,
}

/// Wake-up tag of a pending pattern.
const TAG_PENDING: u64 = 0;
/// Wake-up tag of the next gated period.
const TAG_PERIOD: u64 = 1;
/// Key of the gates' stream under the generator's seed.
const KEY_GATES: u64 = 0x6a7e;

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
            pulse_prob: 1.0,
            gate_rng: ChaCha8Rng::seed_from_u64(key(seed, &[KEY_GATES])),
            next_period: None,
            last_period: None,
        }
    }

    /// The same generator keeping each pulse with probability `pulse_prob` (clamped to
    /// `[0, 1]`; 1: every period, the default).
    pub fn with_pulse_prob(mut self, pulse_prob: f64) -> Self {
        self.pulse_prob = if pulse_prob.is_nan() {
            1.0
        } else {
            pulse_prob.clamp(0.0, 1.0)
        };
        self
    }

    fn gated(&self) -> bool {
        self.pulse_prob < 1.0
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
        if self.gated() {
            return match self.last_period {
                Some((at, kept)) if at < now => self.pulses_before + kept,
                _ => self.pulses_before,
            };
        }
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
            ctx.wake_at(at, TAG_PENDING);
        }
    }

    fn apply(&mut self, p: Arc<[f32]>, ctx: &mut Ctx) {
        let now = ctx.now();
        self.pulses_before = self.line_pulses(ctx.clock(), now);
        self.applied_at = now;
        self.on_lines = p.iter().filter(|&&a| a > 0.0).count() as u64;
        self.current = Some(p.clone());
        self.presented += 1;
        if self.gated() {
            self.last_period = None;
            self.emit_period(ctx);
        } else {
            ctx.emit(OUT_LINES, Payload::Pattern(Arc::new(LinePattern::new(p))));
        }
    }

    /// Emits the current pattern with this period's gates (at a rising edge) and asks to
    /// be woken at the next one while some line pulses.
    fn emit_period(&mut self, ctx: &mut Ctx) {
        let Some(p) = self.current.clone() else {
            return;
        };
        let now = ctx.now();
        if let Some((_, kept)) = self.last_period.take() {
            self.pulses_before += kept;
        }
        let mut kept = 0u64;
        let gated: Arc<[f32]> = p
            .iter()
            .map(|&a| {
                if a != 0.0 && self.gate_rng.random::<f64>() < self.pulse_prob {
                    kept += u64::from(a > 0.0);
                    a
                } else {
                    0.0
                }
            })
            .collect();
        self.last_period = Some((now, kept));
        ctx.emit(
            OUT_LINES,
            Payload::Pattern(Arc::new(LinePattern::new(gated))),
        );
        self.next_period = None;
        if self.on_lines > 0 || p.iter().any(|&a| a != 0.0) {
            let at = now + ctx.clock().period_ns;
            self.next_period = Some(at);
            ctx.wake_at(at, TAG_PERIOD);
        }
    }
}

impl Component for InputGenerator {
    crate::component_state!(InputGenerator {
        lines, amplitude_volts, pending, current, rng, presented, applied_at, on_lines, pulses_before, pulse_prob, gate_rng, next_period, last_period
    } keep {  });

    fn kind(&self) -> &'static str {
        "input"
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        match &ev.payload {
            Payload::Wake { tag } => {
                if *tag == TAG_PERIOD {
                    if self.next_period == Some(ev.time) && self.pending.is_none() {
                        self.emit_period(ctx);
                    }
                } else if let Some(p) = self.pending.take() {
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
