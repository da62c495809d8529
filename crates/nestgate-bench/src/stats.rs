//! Latency histograms, their summaries, and small statistics helpers.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// The largest latency a histogram records (longer ones are recorded as this).
const MAX_LATENCY_US: u64 = 120_000_000;

/// A latency histogram in microseconds with 3 significant digits (round-trip times).
pub(crate) fn fine_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant, valid bounds")
}

/// A latency histogram in microseconds with 2 significant digits: small enough (about 20 KB)
/// to keep one per receiver of a broadcast.
pub(crate) fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("constant, valid bounds")
}

/// Records a latency (at least 1 µs, at most the histogram's maximum).
pub(crate) fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// Adds `from` into `into` (both have the same bounds, so this cannot fail in practice).
pub(crate) fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        // Only possible with histograms of different bounds; record nothing rather than panic.
        eprintln!("warning: could not merge histograms of different bounds");
    }
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Latency {
    /// How many latencies were recorded.
    pub(crate) count: u64,
    /// The median.
    pub(crate) p50_us: u64,
    /// The 99th percentile.
    pub(crate) p99_us: u64,
    /// The 99.9th percentile.
    pub(crate) p999_us: u64,
    /// The largest.
    pub(crate) max_us: u64,
}

impl Latency {
    /// The summary of a histogram.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.5),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        }
    }
}

/// The median of some values (the lower middle one of an even count); `None` when empty.
pub(crate) fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[(values.len() - 1) / 2])
}

/// The least-squares line through `points`: (intercept, slope). `None` with fewer than two
/// distinct x values.
pub(crate) fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    Some((mean_y - slope * mean_x, slope))
}

/// Parses a duration: `10s`, `500ms`, `2m`, or a plain number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 10s or 500ms)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("{text:?}: {err}"))
}

/// A duration in seconds, for reports.
pub(crate) fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn median_takes_the_lower_middle() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(median([]), None);
        assert_eq!(median([f64::NAN, 7.0]), Some(7.0));
    }

    #[test]
    fn linear_fit_finds_the_line() {
        let points = [(0.0, 100.0), (10.0, 120.0), (20.0, 140.0)];
        let (intercept, slope) = linear_fit(&points).expect("three distinct x values");
        assert!((intercept - 100.0).abs() < 1e-9);
        assert!((slope - 2.0).abs() < 1e-9);
        assert_eq!(linear_fit(&[(1.0, 1.0)]), None);
        assert_eq!(linear_fit(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    #[test]
    fn latency_summary_of_a_histogram() {
        let mut histogram = fine_histogram();
        for us in 1..=1000 {
            record(&mut histogram, Duration::from_micros(us));
        }
        let latency = Latency::of(&histogram);
        assert_eq!(latency.count, 1000);
        assert!((495..=505).contains(&latency.p50_us));
        assert!((985..=995).contains(&latency.p99_us));
        assert_eq!(Latency::of(&fine_histogram()).count, 0);
    }
}
