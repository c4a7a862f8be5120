//! The server's log: where lines go, in which format, and how they are written without slowing
//! requests down. `server::start` builds it; the benchmark's Dropshot floor uses it too, so both
//! log alike.

use crate::config::{LogFormat, LogLevel};

/// The server's logger: readable lines (Dropshot's terminal format) or one JSON object per line.
///
/// Dropshot writes one line per request through it ("request completed": method, uri, status,
/// latency, request id, client address). Nothing logged carries a password, hash or token: those
/// only travel in bodies and the `Authorization` header, which are never logged.
///
/// Records are formatted on a logging thread (slog-async), into a buffer that is written out
/// once per record. Unbuffered, the formatters wrote each fragment of a line with its own
/// `write` system call, a dozen per request, which `perf` showed as the largest cost of a
/// cheap request. Colours are used only when stderr is a terminal.
pub fn logger(level: LogLevel, format: LogFormat) -> slog::Logger {
    use slog::Drain;
    use std::io::IsTerminal;
    let level = match level {
        LogLevel::Trace => slog::Level::Trace,
        LogLevel::Debug => slog::Level::Debug,
        LogLevel::Info => slog::Level::Info,
        LogLevel::Warn => slog::Level::Warning,
        LogLevel::Error => slog::Level::Error,
    };
    let buffered_stderr = || std::io::BufWriter::with_capacity(8 * 1024, std::io::stderr());
    match format {
        LogFormat::Terminal if std::io::stderr().is_terminal() => {
            let decorator = slog_term::TermDecorator::new().stderr().build();
            async_logger(level, slog_term::FullFormat::new(decorator).build().fuse())
        }
        LogFormat::Terminal => {
            // PlainDecorator flushes its writer at the end of every record.
            let decorator = slog_term::PlainDecorator::new(buffered_stderr());
            async_logger(level, slog_term::FullFormat::new(decorator).build().fuse())
        }
        LogFormat::Json => {
            let json = slog_json::Json::new(buffered_stderr())
                .set_flush(true)
                .add_default_keys()
                .build()
                .fuse();
            async_logger(level, json)
        }
    }
}

/// Records that may wait for the logging thread; beyond them slog-async drops records and later
/// logs how many it dropped, so a log flood slows no request.
const LOG_QUEUE_RECORDS: usize = 8192;

fn async_logger<D>(level: slog::Level, drain: D) -> slog::Logger
where
    D: slog::Drain<Ok = (), Err = slog::Never> + Send + 'static,
{
    use slog::Drain;
    let drain = slog::LevelFilter::new(drain, level).fuse();
    let drain = slog_async::Async::new(drain)
        .chan_size(LOG_QUEUE_RECORDS)
        .build()
        .fuse();
    slog::Logger::root(drain, slog::o!("name" => "snake-arena"))
}
