//! The seam between a threshold-switching device and the circuit around it.
//!
//! A hybrid neuron needs only a handful of operations from its TS device: its ON/OFF state
//! and resistances, the voltage it takes in series with a resistor, exact advances under a
//! constant voltage (stopping at a transition), cheap closed-form skips over whole periods
//! of a two-level drive, a cheap bounded advance for look-ahead, and a silence proof. The
//! [`ThresholdSwitch`] trait names exactly those, so a device with another switching law
//! or another state model plugs into the neuron without touching it. [`TsDevice`] is the
//! implementation of the built-in model (both its threshold and hazard laws).

use super::silence::SilenceBound;
use super::{TsDevice, TsStep};

/// What a circuit needs from a threshold-switching device (see the module documentation).
///
/// Contract every implementation keeps, on which the neuron's bookkeeping rests:
///
/// * every method is a pure function of the device's state and arguments (advances are
///   deterministic: the same calls give the same results bit for bit);
/// * [`Self::advance`] stops at the first transition and reports it; the other advances
///   never cross one (they return `false`, changing nothing, when they cannot exclude it);
/// * a silence proof ([`Self::is_silent`] of a [`Self::silence_bound`]) under a drive also
///   holds under any drive whose phase voltages are no larger in magnitude.
///
/// A device's whole state serializes (checkpoints of a running network save it exactly).
pub trait ThresholdSwitch:
    Clone + std::fmt::Debug + Send + serde::Serialize + serde::de::DeserializeOwned + 'static
{
    /// The drive-only part of a silence proof, kept by a caller while the drive and
    /// [`Self::silence_key`] are unchanged.
    type SilenceBound: Copy
        + std::fmt::Debug
        + PartialEq
        + Send
        + serde::Serialize
        + serde::de::DeserializeOwned
        + 'static;

    /// Whether the device is ON (low resistance).
    fn is_on(&self) -> bool;

    /// ON (LRS) resistance, ohms.
    fn r_on_ohms(&self) -> f64;

    /// OFF (HRS) resistance of a fresh device, ohms (what a circuit designs around).
    fn r_off_ohms(&self) -> f64;

    /// Voltage across the device when `v_applied_volts` is applied to it in series with
    /// `r_series_ohms`, volts.
    fn device_voltage(&self, v_applied_volts: f64, r_series_ohms: f64) -> f64;

    /// Advances by up to `dt_ns` under a constant device voltage, stopping early at a
    /// transition.
    fn advance(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep;

    /// [`Self::advance`] for a caller that has already proved no transition happens within
    /// `dt_ns` from this exact state under this voltage (an identical advance of a copy
    /// found none): a device may skip its search for the transition instant, but must end
    /// in the same state, bit for bit, as [`Self::advance`] would. The default is
    /// [`Self::advance`].
    fn advance_known_silent(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep {
        self.advance(v_device_volts, dt_ns)
    }

    /// Advances an OFF device over `periods` whole periods of a two-level drive
    /// (`v_high_volts` for `high_ns`, then `v_low_volts` for `low_ns`) if it provably
    /// cannot switch meanwhile; returns false (changing nothing) otherwise.
    fn advance_periods(
        &mut self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
        periods: u64,
    ) -> bool;

    /// Whether [`Self::advance_bounded`] is available (it can return true).
    fn has_bounded_advance(&self) -> bool;

    /// A look-ahead step: advances an OFF device by `dt_ns` with its switching progress
    /// replaced by an upper bound, returning false (changing nothing) when the bound allows
    /// a switch within the interval. A device advanced this way only serves to find the
    /// first interval in which a switch is possible; the exact instant comes from
    /// [`Self::advance`] on the real device.
    fn advance_bounded(&mut self, v_device_volts: f64, dt_ns: u64) -> bool;

    /// The drive-only part of the proof that an OFF device never switches under the
    /// periodic drive `v_high_volts` for `high_ns`, then `v_low_volts` for `low_ns`.
    fn silence_bound(
        &self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
    ) -> Self::SilenceBound;

    /// What [`Self::silence_bound`] depends on besides the drive: equal keys and drives
    /// give equal bounds.
    fn silence_key(&self) -> u64;

    /// Whether the device, in its present state, provably never switches ON under the drive
    /// `bound` was computed for.
    fn is_silent(&self, bound: &Self::SilenceBound) -> bool;

    /// Returns the device to a fully relaxed OFF state and starts a new switching cycle.
    fn reset_to_rest(&mut self);

    /// Energy dissipated in the device so far, joules (none for a device model that does
    /// not account for it).
    fn energy(&self) -> crate::energy::Energy {
        crate::energy::Energy::default()
    }
}

impl ThresholdSwitch for TsDevice {
    type SilenceBound = SilenceBound;

    #[inline]
    fn is_on(&self) -> bool {
        TsDevice::is_on(self)
    }

    #[inline]
    fn r_on_ohms(&self) -> f64 {
        TsDevice::r_on_ohms(self)
    }

    #[inline]
    fn r_off_ohms(&self) -> f64 {
        TsDevice::r_off_ohms(self)
    }

    #[inline]
    fn device_voltage(&self, v_applied_volts: f64, r_series_ohms: f64) -> f64 {
        TsDevice::device_voltage(self, v_applied_volts, r_series_ohms)
    }

    #[inline]
    fn advance(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep {
        TsDevice::advance(self, v_device_volts, dt_ns)
    }

    #[inline]
    fn advance_known_silent(&mut self, v_device_volts: f64, dt_ns: u64) -> TsStep {
        TsDevice::advance_known_silent(self, v_device_volts, dt_ns)
    }

    #[inline]
    fn advance_periods(
        &mut self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
        periods: u64,
    ) -> bool {
        TsDevice::advance_periods(self, v_high_volts, high_ns, v_low_volts, low_ns, periods)
    }

    #[inline]
    fn has_bounded_advance(&self) -> bool {
        TsDevice::has_bounded_advance(self)
    }

    #[inline]
    fn advance_bounded(&mut self, v_device_volts: f64, dt_ns: u64) -> bool {
        self.advance_hazard_bound(v_device_volts, dt_ns)
    }

    #[inline]
    fn silence_bound(
        &self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
    ) -> SilenceBound {
        TsDevice::silence_bound(self, v_high_volts, high_ns, v_low_volts, low_ns)
    }

    #[inline]
    fn silence_key(&self) -> u64 {
        TsDevice::silence_key(self)
    }

    #[inline]
    fn is_silent(&self, bound: &SilenceBound) -> bool {
        TsDevice::is_silent(self, bound)
    }

    #[inline]
    fn reset_to_rest(&mut self) {
        TsDevice::reset_to_rest(self)
    }

    fn energy(&self) -> crate::energy::Energy {
        *TsDevice::energy(self)
    }
}
