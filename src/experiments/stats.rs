//! Small order statistics for experiment summaries.

/// The `q`-quantile (0 ≤ q ≤ 1) of `xs` with linear interpolation between order statistics
/// (type 7, as in R and NumPy's default); `NaN` for an empty sample.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Median (interpolated).
pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

/// Interquartile range `Q3 − Q1`.
pub fn iqr(xs: &[f64]) -> f64 {
    quantile(xs, 0.75) - quantile(xs, 0.25)
}

/// Lower median of counts: the ⌈n/2⌉-th smallest value, always an observed count.
pub fn median_count(xs: &[u32]) -> Option<u32> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    Some(v[(v.len() - 1) / 2])
}

/// Mean; `NaN` for an empty sample.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_type7() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(median(&xs), 2.5);
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(iqr(&xs), 1.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median_count(&[5, 3, 4, 4]), Some(4));
        assert_eq!(median_count(&[]), None);
    }
}
