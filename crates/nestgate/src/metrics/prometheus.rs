//! The Prometheus text format on the app's own port (feature `prometheus`):
//! [`App::metrics_endpoint`](crate::App::metrics_endpoint).

use super::{Source, names};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;

/// Handler durations, in seconds: 50 µs to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
    10.0,
];

/// A recorder of the app's own, and the handle that renders it.
pub(crate) fn recorder() -> (Source, PrometheusHandle) {
    let builder = PrometheusBuilder::new();
    // A fixed, valid matcher and buckets: this cannot fail.
    let builder = builder
        .set_buckets_for_metric(
            Matcher::Full(names::HANDLER_DURATION.to_owned()),
            &DURATION_BUCKETS,
        )
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    (Source::Own(Arc::new(recorder)), handle)
}

/// The route that serves `handle` at `path`.
pub(crate) fn route(path: &str, handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        path,
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                // Histograms are drained by the upkeep: once per scrape is enough.
                handle.run_upkeep();
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
}
