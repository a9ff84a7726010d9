//! The arithmetic of reports, in one place so every report counts the same way.

/// `num / den` as a percentage; `None` over nothing.
pub fn percent(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 * 100.0 / den as f64)
}

/// The mean; `None` of nothing.
pub fn mean(values: &[i64]) -> Option<f64> {
    (!values.is_empty())
        .then(|| values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64)
}

/// The `p`-th percentile (0–100) of values sorted ascending, by nearest rank: a value that
/// occurred, so "90% resolved within" is a time some ticket actually took.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Seconds as a person reads them: "45 s", "12.5 min", "12.8 h", "3.2 d".
pub fn duration(secs: f64) -> String {
    let a = secs.abs();
    if a < 60.0 {
        format!("{secs:.0} s")
    } else if a < 3600.0 {
        format!("{:.1} min", secs / 60.0)
    } else if a < 3.0 * 86400.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} d", secs / 86400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_examples() {
        // 201 very + 14 basically satisfied of 221 answers.
        assert_eq!(
            percent(215, 221).map(|p| format!("{p:.1}")),
            Some("97.3".into())
        );
        assert_eq!(percent(1, 0), None);
        assert_eq!(duration(12.8 * 3600.0), "12.8 h");
        assert_eq!(duration(1.8 * 3600.0), "1.8 h");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(percentile(&v, 100.0), Some(10));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[], 90.0), None);
        assert_eq!(mean(&[1, 2, 3, 6]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
