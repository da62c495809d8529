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

/// How often the histograms are drained besides each scrape: they keep every sample until
/// then, so this bounds their memory when nobody scrapes.
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

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

/// The route that serves `handle` at `path`, and a thread that drains its histograms every
/// [`UPKEEP`] until the route is dropped.
pub(crate) fn route(path: &str, handle: PrometheusHandle) -> axum::Router {
    let alive = Arc::new(());
    let watched = Arc::downgrade(&alive);
    let upkept = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("nestgate-metrics-upkeep".to_owned())
        .spawn(move || {
            while watched.upgrade().is_some() {
                upkept.run_upkeep();
                std::thread::sleep(UPKEEP);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the metrics upkeep thread: histograms are drained at each scrape only");
    }
    axum::Router::new().route(
        path,
        axum::routing::get(move || {
            let _alive = &alive;
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
