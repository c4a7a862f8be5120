//! The server's log: one line per event on stderr, readable or JSON, formatted on the thread that
//! logs and written by a thread of its own in batches, so that logging every request costs a
//! request little. `server::start` builds it; the benchmark's Dropshot floor uses it too.
//!
//! Why not slog-term and slog-async: measured under `cargo xtask bench` (`perf`, and the server's
//! CPU time with `--log-level warn` against `info`), slog-term's formatter and slog-async's
//! per-record copies cost about 12 µs of CPU per request line, some 40% of a cheap request, and
//! unbuffered they issued a `write` system call per fragment. Here a record becomes one finished
//! line in one buffer; the writer thread takes every line that is waiting and writes them with
//! one system call, then pauses a millisecond so that a busy server hands it lines in batches
//! without waking it for each one. A quiet server's line is written at once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::{LogFormat, LogLevel};

/// Lines that may wait for the writer; beyond them a line is dropped and counted (and the count is
/// logged), so a log flood can slow no request and cannot grow memory without bound.
const QUEUED_LINES: usize = 16 * 1024;

/// How long the writer pauses after writing a batch, to gather the next one.
const BATCH_PAUSE: Duration = Duration::from_millis(1);

/// The server's logger: lines at `level` and above, in `format`, on stderr.
pub fn logger(level: LogLevel, format: LogFormat) -> slog::Logger {
    logger_to(level, format, Box::new(std::io::stderr()))
}

/// The same logger writing to `output` (tests read what it writes).
pub fn logger_to(
    level: LogLevel,
    format: LogFormat,
    output: Box<dyn std::io::Write + Send>,
) -> slog::Logger {
    let level = match level {
        LogLevel::Trace => slog::Level::Trace,
        LogLevel::Debug => slog::Level::Debug,
        LogLevel::Info => slog::Level::Info,
        LogLevel::Warn => slog::Level::Warning,
        LogLevel::Error => slog::Level::Error,
    };
    let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUED_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    let writer = {
        let dropped = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_lines(receiver, output, format, &dropped))
            .ok()
    };
    let drain = LineDrain {
        level,
        format,
        sender: Some(sender),
        dropped,
        writer: Mutex::new(writer),
    };
    slog::Logger::root(slog::Drain::fuse(drain), slog::o!("name" => "snake-arena"))
}

/// Formats each record into a line and queues it for the writer thread.
struct LineDrain {
    level: slog::Level,
    format: LogFormat,
    /// `None` only while dropping.
    sender: Option<SyncSender<Vec<u8>>>,
    dropped: Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl slog::Drain for LineDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        if !record.level().is_at_least(self.level) {
            return Ok(());
        }
        let line = format_line(self.format, record, values);
        if let Some(sender) = &self.sender
            && let Err(TrySendError::Full(_)) = sender.try_send(line)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        level.is_at_least(self.level)
    }
}

impl Drop for LineDrain {
    /// Lets the writer write every queued line before the process goes on to exit.
    fn drop(&mut self) {
        self.sender = None;
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

/// The writer thread: every waiting line in one write, then a short pause; ends when the drain
/// is gone and every line is written.
fn write_lines(
    receiver: Receiver<Vec<u8>>,
    mut output: Box<dyn std::io::Write + Send>,
    format: LogFormat,
    dropped: &AtomicU64,
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Ok(line) = receiver.recv() {
        batch.extend_from_slice(&line);
        while let Ok(line) = receiver.try_recv() {
            batch.extend_from_slice(&line);
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            batch.extend_from_slice(&dropped_lines_notice(format, lost));
        }
        // There is nowhere to report a log that cannot be written; the server goes on.
        let _ = output.write_all(&batch).and_then(|()| output.flush());
        batch.clear();
        std::thread::sleep(BATCH_PAUSE);
    }
}

fn dropped_lines_notice(format: LogFormat, lost: u64) -> Vec<u8> {
    let message = format!("log writer fell behind: {lost} log lines were dropped");
    let mut line = String::new();
    start_line(&mut line, format, slog::Level::Warning, &message);
    end_line(&mut line, format);
    line.into_bytes()
}

/// One record as one line: the time (UTC), the level, the message, then the record's key-value
/// pairs and the logger's (such as Dropshot's `req_id`, `method` and `uri`).
fn format_line(
    format: LogFormat,
    record: &slog::Record<'_>,
    values: &slog::OwnedKVList,
) -> Vec<u8> {
    let mut line = String::with_capacity(256);
    // Most messages are plain literals, which need no formatting.
    let message = match record.msg().as_str() {
        Some(literal) => std::borrow::Cow::Borrowed(literal),
        None => std::borrow::Cow::Owned(record.msg().to_string()),
    };
    start_line(&mut line, format, record.level(), &message);
    let mut serializer = LineSerializer {
        line: &mut line,
        format,
    };
    // A value whose formatting fails is left out; the rest of the line still goes out.
    let _ = slog::KV::serialize(&record.kv(), record, &mut serializer);
    let _ = slog::KV::serialize(values, record, &mut serializer);
    end_line(&mut line, format);
    line.into_bytes()
}

fn start_line(line: &mut String, format: LogFormat, level: slog::Level, message: &str) {
    let time = chrono::Utc::now();
    match format {
        LogFormat::Terminal => {
            let _ = write!(
                line,
                "{} {} {message}",
                time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                level.as_short_str()
            );
        }
        LogFormat::Json => {
            line.push_str("{\"msg\":");
            push_json_string(line, message);
            let _ = write!(
                line,
                ",\"level\":\"{}\",\"ts\":\"{}\"",
                level.as_str(),
                time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
    }
}

fn end_line(line: &mut String, format: LogFormat) {
    if format == LogFormat::Json {
        line.push('}');
    }
    line.push('\n');
}

/// Appends `value` as a JSON string literal.
fn push_json_string(line: &mut String, value: &str) {
    // serde_json escapes exactly what JSON requires; writing into a String cannot fail.
    let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned());
    line.push_str(&quoted);
}

/// Writes key-value pairs as `, key: value` (terminal) or `,"key":value` (JSON, with numbers and
/// booleans as JSON numbers and booleans, everything else as strings).
struct LineSerializer<'a> {
    line: &'a mut String,
    format: LogFormat,
}

impl LineSerializer<'_> {
    fn key(&mut self, key: &str) {
        match self.format {
            LogFormat::Terminal => {
                self.line.push_str(", ");
                self.line.push_str(key);
                self.line.push_str(": ");
            }
            LogFormat::Json => {
                self.line.push(',');
                push_json_string(self.line, key);
                self.line.push(':');
            }
        }
    }

    /// A value written as it is in both formats (numbers, booleans).
    fn bare(&mut self, key: &str, value: impl std::fmt::Display) -> slog::Result {
        self.key(key);
        let _ = write!(self.line, "{value}");
        Ok(())
    }

    fn text(&mut self, key: &str, value: &str) -> slog::Result {
        // A request's URI may carry a play ticket (browsers cannot send headers on a WebSocket);
        // it is a credential, so the log never shows it.
        let redacted;
        let value = if key == "uri" {
            redacted = redact_query_secrets(value);
            redacted.as_ref()
        } else {
            value
        };
        self.key(key);
        match self.format {
            LogFormat::Terminal => self.line.push_str(value),
            LogFormat::Json => push_json_string(self.line, value),
        }
        Ok(())
    }
}

/// Query parameters whose values are credentials.
const SECRET_QUERY_PARAMETERS: [&str; 1] = ["ticket"];

/// `uri` with the value of every secret query parameter replaced by `redacted`.
fn redact_query_secrets(uri: &str) -> std::borrow::Cow<'_, str> {
    let Some((path, query)) = uri.split_once('?') else {
        return std::borrow::Cow::Borrowed(uri);
    };
    let is_secret = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        SECRET_QUERY_PARAMETERS.contains(&name)
    };
    if !query.split('&').any(is_secret) {
        return std::borrow::Cow::Borrowed(uri);
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_QUERY_PARAMETERS.contains(&name) => {
                format!("{name}=redacted")
            }
            _ => pair.to_owned(),
        })
        .collect();
    std::borrow::Cow::Owned(format!("{path}?{}", pairs.join("&")))
}

macro_rules! emit_bare {
    ($($method:ident: $type:ty),* $(,)?) => {
        $(fn $method(&mut self, key: slog::Key, value: $type) -> slog::Result {
            self.bare(key.as_ref(), value)
        })*
    };
}

impl slog::Serializer for LineSerializer<'_> {
    emit_bare!(
        emit_usize: usize, emit_isize: isize, emit_bool: bool,
        emit_u8: u8, emit_i8: i8, emit_u16: u16, emit_i16: i16,
        emit_u32: u32, emit_i32: i32, emit_u64: u64, emit_i64: i64,
        emit_u128: u128, emit_i128: i128,
    );

    fn emit_f64(&mut self, key: slog::Key, value: f64) -> slog::Result {
        if value.is_finite() {
            self.bare(key.as_ref(), value)
        } else {
            self.text(key.as_ref(), &value.to_string())
        }
    }

    fn emit_f32(&mut self, key: slog::Key, value: f32) -> slog::Result {
        self.emit_f64(key, f64::from(value))
    }

    fn emit_str(&mut self, key: slog::Key, value: &str) -> slog::Result {
        self.text(key.as_ref(), value)
    }

    fn emit_unit(&mut self, key: slog::Key) -> slog::Result {
        self.text(key.as_ref(), "()")
    }

    fn emit_none(&mut self, key: slog::Key) -> slog::Result {
        match self.format {
            LogFormat::Terminal => self.text(key.as_ref(), "none"),
            LogFormat::Json => self.bare(key.as_ref(), "null"),
        }
    }

    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        match value.as_str() {
            Some(text) => self.text(key.as_ref(), text),
            None => self.text(key.as_ref(), &value.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read after the logger is gone.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, log: impl FnOnce(&slog::Logger)) -> String {
        let captured = Captured::default();
        let logger = logger_to(LogLevel::Info, format, Box::new(captured.clone()));
        log(&logger);
        // Dropping the last logger writes out every queued line.
        drop(logger);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_json_line_is_one_object_with_typed_values_and_escaped_text() {
        let text = logged(LogFormat::Json, |logger| {
            let request_log = logger.new(slog::o!("uri" => "/api/x?q=\"1\"", "method" => "GET"));
            slog::info!(request_log, "request completed";
                "response_code" => 404_u16, "latency_us" => 176_u128, "ok" => false,
                "detail" => format!("line\nbreak"));
            slog::debug!(logger, "below the level");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["msg"], "request completed");
        assert_eq!(line["level"], "INFO");
        assert!(line["ts"].as_str().unwrap().ends_with('Z'));
        assert_eq!(line["response_code"], 404);
        assert_eq!(line["latency_us"], 176);
        assert_eq!(line["ok"], false);
        assert_eq!(line["detail"], "line\nbreak");
        assert_eq!(line["uri"], "/api/x?q=\"1\"");
        assert_eq!(line["name"], "snake-arena");
    }

    #[test]
    fn a_terminal_line_reads_time_level_message_then_the_fields() {
        let text = logged(LogFormat::Terminal, |logger| {
            slog::warn!(logger, "grace period over"; "grace_seconds" => 10_u64);
        });
        let line = text.strip_suffix('\n').unwrap();
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{line}");
        assert_eq!(
            rest,
            "WARN grace period over, grace_seconds: 10, name: snake-arena"
        );
    }

    #[test]
    fn every_line_logged_before_the_logger_is_dropped_is_written_in_order() {
        let text = logged(LogFormat::Terminal, |logger| {
            for index in 0..5000 {
                slog::info!(logger, "line"; "index" => index);
            }
        });
        let indexes: Vec<usize> = text
            .lines()
            .map(|line| {
                line.split("index: ")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(indexes, (0..5000).collect::<Vec<_>>());
    }

    #[test]
    fn a_play_ticket_in_a_logged_uri_is_redacted_and_other_parameters_are_kept() {
        assert_eq!(
            redact_query_secrets("/api/games/live/1/play?ticket=s3cret&x=1"),
            "/api/games/live/1/play?ticket=redacted&x=1"
        );
        assert_eq!(
            redact_query_secrets("/api/leaderboard?mode=walls&limit=3"),
            "/api/leaderboard?mode=walls&limit=3"
        );
        assert_eq!(redact_query_secrets("/api/health"), "/api/health");
        let text = logged(LogFormat::Json, |logger| {
            let request_log =
                logger.new(slog::o!("uri" => "/api/games/live/1/play?ticket=s3cret".to_owned()));
            slog::info!(request_log, "request completed");
        });
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("ticket=redacted"), "{text}");
    }
}
