//! Logs: the application log on stderr, the access log (S05) as JSON lines in
//! a daily rotating file that keeps `retention_days` files.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

const ACCESS_TARGET: &str = "hiroba::access";

/// Installs the subscriber. Keep the guard alive: dropping it flushes the file.
pub fn init(access_dir: Option<(&Path, usize)>) -> Result<Option<WorkerGuard>, String> {
    let app_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{ACCESS_TARGET}=off")
                .parse()
                .map_err(|e| format!("{e}"))?,
        );
    let app_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(app_filter);
    let Some((dir, days)) = access_dir else {
        tracing_subscriber::registry()
            .with(app_layer)
            .try_init()
            .map_err(|e| e.to_string())?;
        return Ok(None);
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("access")
        .filename_suffix("log")
        .max_log_files(days)
        .build(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let access_layer = fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_filter(Targets::new().with_target(ACCESS_TARGET, tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(app_layer)
        .with(access_layer)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(Some(guard))
}
