//! Threshold-switching (TS) memristor: the Ag:SiO2 diffusive device that integrates and
//! fires in the hybrid neuron.
//!
//! # Model: nucleation, bridge and residue
//!
//! The state has three dimensionless parts, summed into the filament state `x = u + b + r`:
//!
//! * `u` — **nucleation**: Ag clusters that accumulate in the gap while the device is OFF
//!   and biased (integration), and dissolve (leak) otherwise:
//!   `du/dt = g(V) − γ1·u`, with the ion-hopping drive `g(V) = μ0·sinh(|V|/V0)`.
//! * `b` — **bridge**: the conducting filament. When `x` reaches the switching point `θ`
//!   the clusters coalesce into a bridge (`b := 1`, `u := 0`) and the device is ON
//!   (`R_on`). While the device voltage stays at or above `V_hold` the bridge is held
//!   (`b = 1`); below it the bridge ruptures spontaneously (Thomson–Gibbs): `db/dt = −γb·b`.
//! * `r` — **residue**: Ag left behind by a bridge. It grows while the bridge conducts,
//!   saturating below 1, `dr/dt = β·g(V)·(1 − r) − γ2·r`, and decays slowly (`γ2 ≪ γb`)
//!   otherwise. Heavy stress can leave `r ≥ x_hold`: the device then stays ON until the
//!   residue has decayed (the threshold-to-memory switching seen in Ag devices).
//!
//! An ON device turns OFF when `b + r` falls below `x_hold` (< θ). Leftover bridge and
//! residue shorten the next integration (Fig 2e: without a refractory period the second
//! fire needs fewer pulses), and a longer or stronger stimulus leaves more residue, so the
//! relaxation time grows with amplitude (Fig 2d).
//!
//! This is the two-state filament + residue picture of the diffusive-memristor literature
//! (Yang group's compact model) with one change, made on purpose: the runaway growth term
//! `1/(α + 1 − x)` that makes switching abrupt there is replaced by the explicit switching
//! point `θ` and the coalescence `u → b`. Every part is then linear with constant
//! coefficients under a constant voltage, so the state between two events is known in
//! closed form, and the switching instant is found exactly on the nanosecond grid with
//! [`crate::expsum::ExpSum`] — no time step anywhere. Coalescence is what lets one device
//! integrate slowly (small `γ1`, tens of pulses) and still recover within a short
//! refractory period (fast `γb`).
//!
//! # Switching law and stochasticity
//!
//! When an OFF device switches is decided by its [`SwitchingLaw`] (module [`switching`]):
//! the *threshold* law switches where `x` reaches the cycle's switching point `θ`; the
//! *hazard* (escape-rate) law switches when the cumulative hazard `∫λ(x, V) dt` reaches a
//! level drawn per cycle, so the instant is random even at a fixed state.
//!
//! Cycle-to-cycle: each switching cycle (at power-up and after every OFF transition) draws
//! new rates `γ1, γb, γ2` (log-normal around the device's own values) and the law's own
//! random part — a new switching point `θ` (threshold law) or a new `Exp(1)` hazard level
//! (hazard law; `ln 2`, the median, without cycle-to-cycle randomness). Device-to-device:
//! each device draws its `μ0, γ1, γb, γ2, β, θ` once at construction. Both are switchable
//! through [`Variability`].

use crate::energy::Energy;
use crate::expsum::ExpSum;
use crate::params::{Validate, Validator};
use crate::variability::{lognormal_factor, Variability};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
pub use silence::SilenceBound;
pub use switching::SwitchingLaw;
use switching::{FactorCache, Filament, Hazard};
pub use threshold_switch::ThresholdSwitch;

pub mod silence;
pub mod switching;
pub mod threshold_switch;

/// Nominal parameters of a TS memristor, as stored in a device-parameter RON file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsParams {
    /// Human-readable name of the parameter set.
    pub name: String,
    /// Drive prefactor μ0 of `g(V) = μ0·sinh(|V|/V0)`, in 1/s.
    pub mu0_per_s: f64,
    /// Voltage scale V0 of the ion-hopping drive, in volts.
    pub v0_volts: f64,
    /// Nucleation leak rate γ1, in 1/s.
    pub gamma1_per_s: f64,
    /// Bridge rupture rate γb below the hold voltage, in 1/s.
    pub gamma_bridge_per_s: f64,
    /// Residue decay rate γ2, in 1/s.
    pub gamma2_per_s: f64,
    /// Residue gain β while the bridge conducts (dimensionless: residue per unit of drive).
    pub beta: f64,
    /// Mean switching point θ of the threshold law, the reference state of the hazard law
    /// (dimensionless filament state, 0 < θ < 1).
    pub theta: f64,
    /// The device turns OFF when bridge + residue fall below this (dimensionless, < θ).
    pub x_hold: f64,
    /// Hold voltage across the device: an ON device keeps its bridge at or above it, volts.
    pub v_hold_volts: f64,
    /// ON (LRS) resistance, ohms.
    pub r_on_ohms: f64,
    /// OFF (HRS) resistance of a fresh device (`x = 0`), ohms.
    pub r_off_ohms: f64,
    /// OFF-state conductance grows as `exp(off_gain · x)` while clusters accumulate.
    pub off_gain: f64,
    /// When an OFF device switches ON: `Threshold(theta_cv: ..)` or
    /// `Hazard(rate_per_s: .., state_scale: .., volts_scale: ..)` (see [`switching`]).
    pub switching: SwitchingLaw,
    /// Cycle-to-cycle spread (coefficients of variation).
    pub cycle_to_cycle: TsCycleSpread,
    /// Device-to-device spread (coefficients of variation).
    pub device_to_device: TsDeviceSpread,
}

/// Cycle-to-cycle coefficients of variation of a TS device's rates (the switching law's
/// own randomness is part of [`SwitchingLaw`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsCycleSpread {
    /// Spread of the rates γ1, γb, γ2.
    pub gamma_cv: f64,
}

/// Device-to-device coefficients of variation of a TS device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsDeviceSpread {
    /// Spread of μ0.
    pub mu0_cv: f64,
    /// Spread of γ1, γb and γ2.
    pub gamma_cv: f64,
    /// Spread of β.
    pub beta_cv: f64,
    /// Spread of the device's mean switching point.
    pub theta_cv: f64,
}

impl Validate for TsParams {
    fn validate(&self, v: &mut Validator) {
        v.positive("mu0_per_s", self.mu0_per_s);
        v.positive("v0_volts", self.v0_volts);
        v.positive("gamma1_per_s", self.gamma1_per_s);
        v.positive("gamma_bridge_per_s", self.gamma_bridge_per_s);
        v.positive("gamma2_per_s", self.gamma2_per_s);
        v.non_negative("beta", self.beta);
        v.in_range("theta", self.theta, 0.0, 1.0);
        v.in_range("x_hold", self.x_hold, 0.0, 1.0);
        v.less_than("x_hold", self.x_hold, "theta", self.theta);
        v.positive("v_hold_volts", self.v_hold_volts);
        v.positive("r_on_ohms", self.r_on_ohms);
        v.positive("r_off_ohms", self.r_off_ohms);
        v.less_than("r_on_ohms", self.r_on_ohms, "r_off_ohms", self.r_off_ohms);
        v.non_negative("off_gain", self.off_gain);
        v.nested("switching", |v| match &self.switching {
            SwitchingLaw::Threshold { theta_cv } => v.in_range("theta_cv", *theta_cv, 0.0, 1.0),
            SwitchingLaw::Hazard {
                rate_per_s,
                state_scale,
                volts_scale,
            } => {
                v.positive("rate_per_s", *rate_per_s);
                v.positive("state_scale", *state_scale);
                v.positive("volts_scale", *volts_scale);
            }
        });
        v.nested("cycle_to_cycle", |v| {
            v.in_range("gamma_cv", self.cycle_to_cycle.gamma_cv, 0.0, 1.0);
        });
        v.nested("device_to_device", |v| {
            let d = &self.device_to_device;
            v.in_range("mu0_cv", d.mu0_cv, 0.0, 1.0);
            v.in_range("gamma_cv", d.gamma_cv, 0.0, 1.0);
            v.in_range("beta_cv", d.beta_cv, 0.0, 1.0);
            v.in_range("theta_cv", d.theta_cv, 0.0, 1.0);
        });
    }
}

impl TsParams {
    /// The ion-hopping drive `g(V) = μ0·sinh(|V|/V0)` of the nominal device, in 1/s.
    pub fn drive_per_s(&self, v_volts: f64) -> f64 {
        self.mu0_per_s * (v_volts.abs() / self.v0_volts).sinh()
    }
}

/// One device's own rates (after fabrication spread, and for the current cycle).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TsRates {
    /// μ0 in 1/s.
    pub mu0_per_s: f64,
    /// V0 in volts.
    pub v0_volts: f64,
    /// γ1 in 1/s.
    pub gamma1_per_s: f64,
    /// γb in 1/s.
    pub gamma_bridge_per_s: f64,
    /// γ2 in 1/s.
    pub gamma2_per_s: f64,
    /// β (dimensionless).
    pub beta: f64,
    /// Switching point θ of this cycle.
    pub theta: f64,
}

impl TsRates {
    /// Drive `g(V)` in 1/s.
    #[inline]
    pub fn drive_per_s(&self, v_volts: f64) -> f64 {
        self.mu0_per_s * (v_volts.abs() / self.v0_volts).sinh()
    }

    /// Residue asymptote and rate (1/s) while the bridge conducts under drive `g`.
    #[inline]
    pub fn residue_target(&self, g_per_s: f64) -> (f64, f64) {
        let k = self.beta * g_per_s + self.gamma2_per_s;
        (self.beta * g_per_s / k, k)
    }
}

/// Dynamic state of a TS device.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct TsState {
    /// Nucleation `u` (dimensionless).
    pub nucleation: f64,
    /// Bridge `b` (dimensionless, 1 while held).
    pub bridge: f64,
    /// Residue `r` (dimensionless).
    pub residue: f64,
    /// Whether the device is ON (low resistance).
    pub on: bool,
}

impl TsState {
    /// The filament state `x = u + b + r`.
    pub fn filament(&self) -> f64 {
        self.nucleation + self.bridge + self.residue
    }
}

/// What ended an [`TsDevice::advance`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsTransition {
    /// The filament reached the switching point: the device is now ON.
    SwitchedOn,
    /// Bridge and residue fell below `x_hold`: the device is OFF and a new cycle began.
    SwitchedOff,
}

/// Result of advancing a device under a constant voltage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsStep {
    /// Nanoseconds actually advanced (the full request unless a transition stopped it).
    pub elapsed_ns: u64,
    /// The transition at the end of `elapsed_ns`, if any.
    pub transition: Option<TsTransition>,
}

/// A TS memristor instance: its own parameters, state, and random stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TsDevice {
    device: TsRates,
    cycle: TsRates,
    state: TsState,
    v_hold_volts: f64,
    x_hold: f64,
    g_on_siemens: f64,
    g_off_siemens: f64,
    r_on_ohms: f64,
    r_off_ohms: f64,
    off_gain: f64,
    law: SwitchingLaw,
    /// The hazard law's constants (`None`: threshold law).
    hazard: Option<Hazard>,
    /// Cumulative hazard of the current cycle (hazard law), dimensionless.
    hazard_so_far: f64,
    /// The level the cumulative hazard must reach to switch in this cycle (hazard law).
    hazard_level: f64,
    /// Quadrature factors of recent intervals under this cycle's rates (hazard law).
    hazard_factors: FactorCache,
    /// The last two `(|V| bits, field factor)` pairs of the hazard law.
    field_cache: [(u64, f64); 2],
    theta_cv: f64,
    gamma_cv: f64,
    variability: Variability,
    rng: ChaCha8Rng,
    energy: Energy,
    /// The last two `(|V| bits, drive)` pairs: a neuron alternates between a few device
    /// voltages, and `μ0`, `V0` never change after fabrication, so `sinh` is rarely needed.
    drive_cache: [(u64, f64); 2],
    /// The OFF conductance of the present state, when known (saves two exponentials per
    /// step of the energy integral); cleared whenever the state changes otherwise.
    g_off_cache: Option<f64>,
    /// The last two `(dt ns, [e^{−γ1·dt}, e^{−γb·dt}, e^{−γ2·dt}])` of this cycle's rates:
    /// most steps are whole 250 µs CLK phases. Cleared when a new cycle redraws the rates.
    decay_cache: [(u64, [f64; 3]); 2],
    /// The last `((high ns, low ns, periods), [e^{−γ1·t_high}, e^{−γ1·t_low},
    /// e^{−γb·t}, e^{−γ2·t}])` of [`Self::advance_periods`] (`t` the whole span): a dormant
    /// neuron catching up steps one CLK period at a time. Cleared with the decay cache.
    #[serde(default)]
    period_cache: ((u64, u64, i32), [f64; 4]),
}

impl TsDevice {
    /// A fresh device (HRS, no residue) drawn from `params` with the given randomness.
    /// `seed` keys this device's own random stream.
    pub fn new(params: &TsParams, variability: Variability, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = &params.device_to_device;
        let mut f = |cv: f64| {
            if variability.device_to_device {
                lognormal_factor(&mut rng, cv)
            } else {
                1.0
            }
        };
        let gamma_f = f(d.gamma_cv);
        let device = TsRates {
            mu0_per_s: params.mu0_per_s * f(d.mu0_cv),
            v0_volts: params.v0_volts,
            gamma1_per_s: params.gamma1_per_s * gamma_f,
            gamma_bridge_per_s: params.gamma_bridge_per_s * gamma_f,
            gamma2_per_s: params.gamma2_per_s * gamma_f,
            beta: params.beta * f(d.beta_cv),
            theta: clamp_theta(params.theta * f(d.theta_cv), params.x_hold),
        };
        let mut dev = TsDevice {
            device,
            cycle: device,
            state: TsState::default(),
            v_hold_volts: params.v_hold_volts,
            x_hold: params.x_hold,
            g_on_siemens: 1.0 / params.r_on_ohms,
            g_off_siemens: 1.0 / params.r_off_ohms,
            r_on_ohms: params.r_on_ohms,
            r_off_ohms: params.r_off_ohms,
            off_gain: params.off_gain,
            law: params.switching.clone(),
            hazard: match params.switching {
                SwitchingLaw::Threshold { .. } => None,
                SwitchingLaw::Hazard {
                    rate_per_s,
                    state_scale,
                    volts_scale,
                } => Some(Hazard {
                    rate_per_s,
                    state_scale,
                    volts_scale,
                }),
            },
            hazard_so_far: 0.0,
            hazard_level: std::f64::consts::LN_2,
            hazard_factors: [None; 2],
            field_cache: [(u64::MAX, 0.0); 2],
            theta_cv: match params.switching {
                SwitchingLaw::Threshold { theta_cv } => theta_cv,
                SwitchingLaw::Hazard { .. } => 0.0,
            },
            gamma_cv: params.cycle_to_cycle.gamma_cv,
            variability,
            rng,
            energy: Energy::default(),
            drive_cache: [(u64::MAX, 0.0); 2],
            g_off_cache: None,
            decay_cache: [(0, [1.0; 3]); 2],
            period_cache: Default::default(),
        };
        dev.new_cycle();
        dev
    }

    /// Draws this cycle's rates and the switching law's random part (cycle-to-cycle
    /// noise): a switching point (threshold law) or a hazard level (hazard law).
    fn new_cycle(&mut self) {
        self.cycle = self.device;
        self.decay_cache = [(0, [1.0; 3]); 2];
        self.period_cache = Default::default();
        self.hazard_so_far = 0.0;
        self.hazard_level = std::f64::consts::LN_2;
        self.hazard_factors = [None; 2];
        if !self.variability.cycle_to_cycle {
            return;
        }
        let g = lognormal_factor(&mut self.rng, self.gamma_cv);
        self.cycle.gamma1_per_s *= g;
        self.cycle.gamma_bridge_per_s *= g;
        self.cycle.gamma2_per_s *= lognormal_factor(&mut self.rng, self.gamma_cv);
        if self.hazard.is_some() {
            // Exp(1) by inversion; `1 − U` lies in (0, 1], so the level is finite.
            let u: f64 = self.rng.random();
            self.hazard_level = -(1.0 - u).ln();
        } else {
            let t = lognormal_factor(&mut self.rng, self.theta_cv);
            self.cycle.theta = clamp_theta(self.device.theta * t, self.x_hold);
        }
    }

    /// The switching law of this device.
    pub fn law(&self) -> &SwitchingLaw {
        &self.law
    }

    /// Whether an OFF device can switch only while a voltage is across it (the hazard law:
    /// its rate carries the field factor `sinh(|V|/V_s)`); under the threshold law an OFF
    /// device whose filament reaches `θ` switches whatever the voltage.
    pub fn needs_field_to_switch(&self) -> bool {
        self.hazard.is_some()
    }

    /// A cheap look-ahead step for predictions under the hazard law: advances an OFF device
    /// by `dt_ns` under a constant device voltage with its filament exact but its cumulative
    /// hazard replaced by an upper bound, `H + dt·rate·sinh(|V|/V_s)·exp((x_max − θ)/s)`
    /// (`x_max` the larger end of the interval: every term of `x` is monotone). Returns
    /// `false` (changing nothing) when that bound reaches the cycle's level — the device may
    /// switch within the interval — and `true` otherwise. A device advanced this way carries
    /// an upper bound of its hazard and serves only to find the first interval in which a
    /// switch is possible; the exact instant comes from [`Self::advance`] on the real device.
    /// Always `false` under the threshold law or for an ON device.
    pub fn advance_hazard_bound(&mut self, v_device_volts: f64, dt_ns: u64) -> bool {
        let Some(hz) = self.hazard else {
            return false;
        };
        if self.state.on {
            return false;
        }
        let f = self.field_rate_cached(&hz, v_device_volts);
        if f > 0.0 {
            let g = self.drive_cached(v_device_volts);
            let c = self.cycle;
            let u_inf = g / c.gamma1_per_s;
            let [e1, eb, e2] = self.decays(dt_ns);
            let st = self.state;
            let end = u_inf + (st.nucleation - u_inf) * e1 + st.bridge * eb + st.residue * e2;
            let x_max = st.filament().max(end);
            let lam = f * ((x_max - c.theta) / hz.state_scale).min(600.0).exp();
            let h = self.hazard_so_far + lam * dt_ns as f64 * 1e-9;
            if h.partial_cmp(&self.hazard_level) != Some(std::cmp::Ordering::Less) {
                return false;
            }
            self.hazard_so_far = h;
        }
        self.evolve_off_cached(v_device_volts, dt_ns);
        true
    }

    /// The hazard law's field factor `rate·sinh(|V|/V_s)` (1/s), from the cache when `|V|`
    /// was seen recently.
    #[inline]
    fn field_rate_cached(&mut self, hz: &Hazard, v: f64) -> f64 {
        if v == 0.0 {
            return 0.0;
        }
        let bits = v.abs().to_bits();
        if let Some(&(_, f)) = self.field_cache.iter().find(|(b, _)| *b == bits) {
            return f;
        }
        let f = hz.field_rate(v);
        self.field_cache.swap(0, 1);
        self.field_cache[0] = (bits, f);
        f
    }

    /// Cumulative hazard of the current switching cycle and the level at which the device
    /// switches (hazard law; both 0 and ln 2 under the threshold law), dimensionless.
    pub fn hazard(&self) -> (f64, f64) {
        (self.hazard_so_far, self.hazard_level)
    }

    /// Returns the device to a fully relaxed HRS (no clusters, bridge or residue) and starts
    /// a new switching cycle — what a long rest between two experiments does.
    pub fn reset_to_rest(&mut self) {
        self.state = TsState::default();
        self.g_off_cache = None;
        self.new_cycle();
    }

    /// The device's current state.
    pub fn state(&self) -> &TsState {
        &self.state
    }

    /// Overwrites the state (for restoring a snapshot or setting up an experiment).
    pub fn set_state(&mut self, state: TsState) {
        self.state = state;
        self.g_off_cache = None;
    }

    /// The rates and switching point in force for the current cycle.
    pub fn rates(&self) -> &TsRates {
        &self.cycle
    }

    /// The device's own (fabricated) rates, without this cycle's noise.
    pub fn device_rates(&self) -> &TsRates {
        &self.device
    }

    /// Whether the device is ON.
    pub fn is_on(&self) -> bool {
        self.state.on
    }

    /// Hold voltage in volts.
    pub fn v_hold_volts(&self) -> f64 {
        self.v_hold_volts
    }

    /// ON-state conductance in siemens.
    pub fn g_on_siemens(&self) -> f64 {
        self.g_on_siemens
    }

    /// ON (LRS) resistance, ohms (as given in the parameters).
    pub fn r_on_ohms(&self) -> f64 {
        self.r_on_ohms
    }

    /// OFF (HRS) resistance of a fresh device (`x = 0`), ohms (as given in the parameters).
    pub fn r_off_ohms(&self) -> f64 {
        self.r_off_ohms
    }

    /// Present conductance in siemens (ON: `1/R_on`; OFF: grows with the filament).
    pub fn conductance_siemens(&self) -> f64 {
        if self.state.on {
            self.g_on_siemens
        } else {
            self.g_off_siemens * (self.off_gain * self.state.filament().min(1.0)).exp()
        }
    }

    /// Voltage across the device when `v_applied_volts` is applied to the device in series
    /// with `r_series_ohms`. OFF resistance is ≥ `R_off·e^{−off_gain}` (megaohms), far above
    /// any series resistance in these circuits, so an OFF device takes the whole voltage.
    pub fn device_voltage(&self, v_applied_volts: f64, r_series_ohms: f64) -> f64 {
        if self.state.on {
            let r_on = 1.0 / self.g_on_siemens;
            v_applied_volts * r_on / (r_on + r_series_ohms)
        } else {
            v_applied_volts
        }
    }

    /// Energy dissipated in the device so far.
    pub fn energy(&self) -> &Energy {
        &self.energy
    }

    /// The filament state `x(t)` over the next interval under a constant device voltage,
    /// as a closed-form sum of exponentials of `t` (seconds since now). `None` while an ON
    /// device holds its bridge (`x` is then irrelevant: the device stays ON).
    pub fn trajectory(&self, v_device_volts: f64) -> Trajectory {
        let c = &self.cycle;
        let s = &self.state;
        let g = c.drive_per_s(v_device_volts);
        if !s.on {
            let u_inf = g / c.gamma1_per_s;
            let x = ExpSum::constant(u_inf)
                .with(s.nucleation - u_inf, c.gamma1_per_s)
                .with(s.bridge, c.gamma_bridge_per_s)
                .with(s.residue, c.gamma2_per_s);
            Trajectory::Off(x)
        } else {
            let (r_inf, k) = c.residue_target(g);
            if v_device_volts.abs() >= self.v_hold_volts {
                Trajectory::Held {
                    residue: ExpSum::constant(r_inf).with(s.residue - r_inf, k),
                }
            } else {
                let br = ExpSum::constant(r_inf)
                    .with(s.bridge, c.gamma_bridge_per_s)
                    .with(s.residue - r_inf, k);
                Trajectory::Relaxing(br)
            }
        }
    }

    /// Nanoseconds until the next transition under a constant device voltage, looking at
    /// most `max_ns` ahead. Pure: the device is not changed.
    pub fn time_to_transition(&self, v_device_volts: f64, max_ns: u64) -> Option<u64> {
        match self.trajectory(v_device_volts) {
            Trajectory::Off(x) => match &self.hazard {
                Some(hz) => hz
                    .first_crossing(
                        &self.filament(self.cycle.drive_per_s(v_device_volts)),
                        self.cycle.theta,
                        hz.field_rate(v_device_volts),
                        self.hazard_so_far,
                        self.hazard_level,
                        max_ns,
                        &mut self.hazard_factors.clone(),
                    )
                    .ok(),
                None => x.first_at_or_above(self.cycle.theta, max_ns),
            },
            Trajectory::Held { .. } => None,
            Trajectory::Relaxing(br) => br.first_below(self.x_hold, max_ns),
        }
    }

    /// Advances the device by up to `dt_ns` under a constant device voltage, stopping early
    /// at a transition (the caller then recomputes its circuit and continues).
    pub fn advance(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep {
        if !self.state.on && dt_ns > 0 && self.hazard.is_some() {
            return self.advance_off_hazard(v_device_volts, dt_ns);
        }
        if !self.state.on && dt_ns > 0 && self.advance_off_without_switching(v_device_volts, dt_ns)
        {
            return TsStep {
                elapsed_ns: dt_ns,
                transition: None,
            };
        }
        let hit = self.time_to_transition(v_device_volts, dt_ns);
        let elapsed = hit.unwrap_or(dt_ns);
        self.evolve(v_device_volts, elapsed);
        self.g_off_cache = None;
        let transition = hit.map(|_| self.transition());
        TsStep {
            elapsed_ns: elapsed,
            transition,
        }
    }

    /// [`Self::advance`] when the caller knows that no transition happens within `dt_ns`
    /// (see [`ThresholdSwitch::advance_known_silent`]): the same steps without the search
    /// for the transition instant, so the same state. The hazard law keeps its own path
    /// (its running hazard integral is part of the state).
    pub fn advance_known_silent(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep {
        if dt_ns == 0 || (!self.state.on && self.hazard.is_some()) {
            return self.advance(v_device_volts, dt_ns);
        }
        if !self.state.on && self.advance_off_without_switching(v_device_volts, dt_ns) {
            return TsStep {
                elapsed_ns: dt_ns,
                transition: None,
            };
        }
        self.evolve(v_device_volts, dt_ns);
        self.g_off_cache = None;
        TsStep {
            elapsed_ns: dt_ns,
            transition: None,
        }
    }

    /// Performs the transition the state has reached: ON → OFF (a new cycle begins) or
    /// OFF → ON (the clusters coalesce into a bridge).
    fn transition(&mut self) -> TsTransition {
        if self.state.on {
            self.state.on = false;
            self.state.bridge = self.state.bridge.min(self.x_hold);
            self.new_cycle();
            TsTransition::SwitchedOff
        } else {
            self.state.on = true;
            self.state.nucleation = 0.0;
            self.state.bridge = 1.0;
            TsTransition::SwitchedOn
        }
    }

    /// The OFF filament `x(t)` under drive `g_per_s` (this cycle's rates).
    fn filament(&self, g_per_s: f64) -> Filament {
        let c = &self.cycle;
        let s = &self.state;
        let u_inf = g_per_s / c.gamma1_per_s;
        Filament {
            constant: u_inf,
            amp: [s.nucleation - u_inf, s.bridge, s.residue],
            rate_per_s: [c.gamma1_per_s, c.gamma_bridge_per_s, c.gamma2_per_s],
        }
    }

    /// [`Self::advance`] of an OFF device under the hazard law: integrates the hazard along
    /// the closed-form filament and switches at the first nanosecond it reaches the level.
    fn advance_off_hazard(&mut self, v: f64, dt_ns: u64) -> TsStep {
        let Some(hz) = self.hazard else {
            unreachable!("called for an OFF device under the hazard law");
        };
        let g = self.drive_cached(v);
        let x = self.filament(g);
        let f = self.field_rate_cached(&hz, v);
        let crossing = hz.first_crossing(
            &x,
            self.cycle.theta,
            f,
            self.hazard_so_far,
            self.hazard_level,
            dt_ns,
            &mut self.hazard_factors,
        );
        match crossing {
            Ok(n) => {
                self.evolve(v, n);
                self.g_off_cache = None;
                TsStep {
                    elapsed_ns: n,
                    transition: Some(self.transition()),
                }
            }
            Err(h) => {
                self.hazard_so_far = h;
                self.evolve_off_cached(v, dt_ns);
                TsStep {
                    elapsed_ns: dt_ns,
                    transition: None,
                }
            }
        }
    }

    /// `[e^{−γ1·dt}, e^{−γb·dt}, e^{−γ2·dt}]` for this cycle's rates (`dt > 0`), from the
    /// cache when `dt` was seen recently; the same values [`Self::evolve`] computes.
    #[inline]
    fn decays(&mut self, dt_ns: u64) -> [f64; 3] {
        if let Some(&(_, d)) = self.decay_cache.iter().find(|(n, _)| *n == dt_ns) {
            return d;
        }
        let c = &self.cycle;
        let t = dt_ns as f64 * 1e-9;
        let d = [
            (-c.gamma1_per_s * t).exp(),
            (-c.gamma_bridge_per_s * t).exp(),
            (-c.gamma2_per_s * t).exp(),
        ];
        self.decay_cache.swap(0, 1);
        self.decay_cache[0] = (dt_ns, d);
        d
    }

    /// The drive `g(V)` (1/s), from the cache when `|V|` was seen recently.
    #[inline]
    fn drive_cached(&mut self, v: f64) -> f64 {
        if v == 0.0 {
            return self.cycle.mu0_per_s * 0.0;
        }
        let bits = v.abs().to_bits();
        if let Some(&(_, g)) = self.drive_cache.iter().find(|(b, _)| *b == bits) {
            return g;
        }
        let g = self.cycle.drive_per_s(v);
        self.drive_cache.swap(0, 1);
        self.drive_cache[0] = (bits, g);
        g
    }

    /// The common case of [`Self::advance`], done with one set of exponentials: an OFF
    /// device whose filament provably stays below the switching point for `dt_ns` (each
    /// term of `x(t)` is monotone, so `x ≤ u∞ + Σ max(term(0), term(dt))`). Evolves it and
    /// returns true; returns false (changing nothing) when the bound does not exclude a
    /// switch. The arithmetic is that of [`Self::evolve`], so results do not depend on
    /// which path ran.
    fn advance_off_without_switching(&mut self, v: f64, dt_ns: u64) -> bool {
        let c = self.cycle;
        let g = self.drive_cached(v);
        let u_inf = g / c.gamma1_per_s;
        let [e1, eb, e2] = self.decays(dt_ns);
        let s = self.state;
        let a = s.nucleation - u_inf;
        let bound =
            u_inf + a.max(a * e1) + s.bridge.max(s.bridge * eb) + s.residue.max(s.residue * e2);
        // NaN-safe: anything but a proven margin takes the exact path.
        if bound.partial_cmp(&c.theta) != Some(std::cmp::Ordering::Less) {
            return false;
        }
        self.evolve_off_cached(v, dt_ns);
        true
    }

    /// [`Self::evolve`] of an OFF device with the cached drive and decay factors (the same
    /// values `evolve` computes, so results do not depend on which path ran).
    fn evolve_off_cached(&mut self, v: f64, dt_ns: u64) {
        let c = self.cycle;
        let g = self.drive_cached(v);
        let t = dt_ns as f64 * 1e-9;
        let u_inf = g / c.gamma1_per_s;
        let [e1, eb, e2] = self.decays(dt_ns);
        let g_start = match self.g_off_cache {
            Some(g) => g,
            None => self.conductance_siemens(),
        };
        let st = &mut self.state;
        st.nucleation = u_inf + (st.nucleation - u_inf) * e1;
        st.bridge *= eb;
        st.residue *= e2;
        let g_end = self.conductance_siemens();
        self.g_off_cache = Some(g_end);
        self.energy.ts_joules += v * v * (0.5 * (g_start + g_end)) * t;
    }

    /// Advances an OFF device over `periods` whole periods of a two-level drive (device
    /// voltage `v_high_volts` for `high_ns`, then `v_low_volts` for `low_ns`) in closed
    /// form, if it provably cannot switch meanwhile; returns false (changing nothing)
    /// otherwise, or when the device is ON. Under the hazard law only unbiased periods
    /// (`v_high = v_low = 0`: no field, no hazard) can be skipped this way.
    ///
    /// Per period the nucleation follows the affine map `u ↦ α·u + β` (`α = a_h·a_l`,
    /// `β = u∞h(1 − a_h)·a_l + u∞l(1 − a_l)`, `a = e^{−γ1·t}`), so after `k` periods
    /// `u = α^k·u + β(1 − α^k)/(1 − α)`; bridge and residue decay geometrically. Within the
    /// span `u` never exceeds `max(u, u∞h + (u − u∞h)·a_h, u_p)` (the peaks at the ends of
    /// high phases move monotonically from the first towards the periodic steady state
    /// `u_p = [u∞h(1 − a_h) + u∞l(1 − a_l)·a_h]/(1 − α)`), which is the bound checked against the switching point. The
    /// OFF state's Joule energy (nanowatts) is integrated with the end-point conductances.
    pub fn advance_periods(
        &mut self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
        periods: u64,
    ) -> bool {
        if self.state.on || periods == 0 {
            return false;
        }
        let c = self.cycle;
        let (th, tl) = (high_ns as f64 * 1e-9, low_ns as f64 * 1e-9);
        let (gh, gl) = (
            self.drive_cached(v_high_volts),
            self.drive_cached(v_low_volts),
        );
        let (uh, ul) = (gh / c.gamma1_per_s, gl / c.gamma1_per_s);
        let k = periods.min(i32::MAX as u64) as i32;
        let [ah, al, e_bridge, e_residue] = self.period_decays(high_ns, low_ns, k);
        let alpha = ah * al;
        if alpha.partial_cmp(&1.0) != Some(std::cmp::Ordering::Less) {
            return false;
        }
        let beta_h = uh * (1.0 - ah);
        let beta = beta_h * al + ul * (1.0 - al);
        let s = self.state;
        if self.hazard.is_some() {
            if v_high_volts != 0.0 || v_low_volts != 0.0 {
                return false;
            }
        } else {
            let u_peak = (beta_h + ul * (1.0 - al) * ah) / (1.0 - alpha);
            let first_peak = uh + (s.nucleation - uh) * ah;
            let bound = s.nucleation.max(first_peak).max(u_peak).max(ul) + s.bridge + s.residue;
            if bound.partial_cmp(&c.theta) != Some(std::cmp::Ordering::Less) {
                return false;
            }
        }
        let ak = alpha.powi(k);
        let g_start = match self.g_off_cache {
            Some(g) => g,
            None => self.conductance_siemens(),
        };
        let st = &mut self.state;
        st.nucleation = ak * st.nucleation + beta * (1.0 - ak) / (1.0 - alpha);
        st.bridge *= e_bridge;
        st.residue *= e_residue;
        let g_end = self.conductance_siemens();
        self.g_off_cache = Some(g_end);
        let v2t =
            (v_high_volts * v_high_volts * th + v_low_volts * v_low_volts * tl) * f64::from(k);
        self.energy.ts_joules += v2t * 0.5 * (g_start + g_end);
        true
    }

    /// The decay factors of [`Self::advance_periods`] over `k` periods of `high_ns` +
    /// `low_ns`, from the cache when the last call had the same span.
    fn period_decays(&mut self, high_ns: u64, low_ns: u64, k: i32) -> [f64; 4] {
        let key = (high_ns, low_ns, k);
        if self.period_cache.0 == key {
            return self.period_cache.1;
        }
        let c = &self.cycle;
        let (th, tl) = (high_ns as f64 * 1e-9, low_ns as f64 * 1e-9);
        let t = (th + tl) * f64::from(k);
        let d = [
            (-c.gamma1_per_s * th).exp(),
            (-c.gamma1_per_s * tl).exp(),
            (-c.gamma_bridge_per_s * t).exp(),
            (-c.gamma2_per_s * t).exp(),
        ];
        self.period_cache = (key, d);
        d
    }

    /// Closed-form evolution of the state over `dt_ns` with no transition inside.
    fn evolve(&mut self, v: f64, dt_ns: u64) {
        if dt_ns == 0 {
            return;
        }
        let t = dt_ns as f64 * 1e-9;
        let c = self.cycle;
        let g = self.drive_cached(v);
        let g_start = self.conductance_siemens();
        if !self.state.on {
            let u_inf = g / c.gamma1_per_s;
            let [e1, eb, e2] = self.decays(dt_ns);
            let s = &mut self.state;
            s.nucleation = u_inf + (s.nucleation - u_inf) * e1;
            s.bridge *= eb;
            s.residue *= e2;
        } else {
            let s = &mut self.state;
            let (r_inf, k) = c.residue_target(g);
            s.residue = r_inf + (s.residue - r_inf) * (-k * t).exp();
            if v.abs() < self.v_hold_volts {
                s.bridge *= (-c.gamma_bridge_per_s * t).exp();
            } else {
                s.bridge = 1.0;
            }
        }
        // Joule energy: exact when ON; OFF uses the mean of the end-point conductances
        // (the OFF state dissipates nanowatts at most).
        let g_end = self.conductance_siemens();
        if self.state.on {
            self.energy.ts_hold_joules += v * v * g_end * t;
        } else {
            self.energy.ts_joules += v * v * (0.5 * (g_start + g_end)) * t;
        }
    }
}

/// The closed-form course of a TS device under a constant voltage (see
/// [`TsDevice::trajectory`]).
#[derive(Clone, Copy, Debug)]
pub enum Trajectory {
    /// OFF: the filament `x(t)`; the device switches ON where it reaches θ (threshold law)
    /// or where the hazard integrated along it reaches the cycle's level (hazard law).
    Off(ExpSum),
    /// ON and held: only the residue moves.
    Held {
        /// Residue `r(t)`.
        residue: ExpSum,
    },
    /// ON below the hold voltage: bridge + residue `b(t) + r(t)`; OFF below `x_hold`.
    Relaxing(ExpSum),
}

fn clamp_theta(theta: f64, x_hold: f64) -> f64 {
    theta.clamp(x_hold + 0.5 * (1.0 - x_hold) * 0.05, 0.999)
}

#[cfg(test)]
mod tests;
