//! What both servers show operators, the same way: Prometheus metrics ([`metrics_route`] at `/metrics`),
//! every request counted by route, method and status with its latency ([`track`]), and logs as text or
//! JSON lines ([`LogFormat`], [`init_logs`]).
//!
//! Metrics are recorded through the `metrics` facade (the libraries name theirs with `metrics::counter!`
//! and friends, with no exporter of their own); the first call of [`prometheus`] installs the one recorder
//! of the process, whose latency histograms have [`LATENCY_BUCKETS`].

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route` (the route's pattern, never the path asked for), `method` and `status`.
pub const REQUESTS: &str = "delta_bridge_http_requests_total";
/// Seconds until the answer's headers, by `route` and `method`.
pub const LATENCY: &str = "delta_bridge_http_request_duration_seconds";
/// The buckets of every histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed at the first call.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .expect("buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (a test harness): this handle then renders nothing, which is
        // all a second server in the same process could expect.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `GET /metrics`: every metric of the process in Prometheus' text format.
pub async fn metrics_route() -> Response {
    render()
}

/// The text [`metrics_route`] answers (for an edge that sets gauges first).
pub fn render() -> Response {
    let handle = prometheus();
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Middleware counting each request by route, method and status, with its latency.
pub async fn track(request: Request, next: Next) -> Response {
    prometheus();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(LATENCY, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, for a log pipeline.
    Json,
}

/// Logs to standard error in `format`, filtered by the `filter_variable` environment variable (an
/// `EnvFilter` such as `info` or `delta_bridge=debug`; `info` when unset).
pub fn init_logs(format: LogFormat, filter_variable: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(filter_variable)
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_are_counted_by_route_pattern_method_and_status() {
        let app = Router::new()
            .route("/things/{id}", get(|| async { "a thing" }))
            .route("/metrics", get(metrics_route))
            .layer(axum::middleware::from_fn(track));
        for path in ["/things/1", "/things/2", "/nothing"] {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
        }
        let answer = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let text = String::from_utf8(
            axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.contains(r#"delta_bridge_http_requests_total{route="/things/{id}",method="GET",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"delta_bridge_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"delta_bridge_http_request_duration_seconds_bucket{route="/things/{id}",method="GET",le="30"} 2"#),
            "{text}"
        );
        // Paths asked for never become labels.
        assert!(!text.contains("/things/1"), "{text}");
    }
}
