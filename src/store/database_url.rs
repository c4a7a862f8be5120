//! The `--database-url` setting: which store backend to open and where, parsed once at start-up
//! so that a malformed value is one clear error before anything is opened.

use std::path::PathBuf;

/// The value `--database-url` has when it is not given: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://snake-arena.sqlite3";

/// Where the store lives, as `--database-url` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `memory`: the in-memory store, forgotten when the process exits.
    Memory,
    /// `sqlite://PATH`: a SQLite database file, created and migrated on first start. The path is
    /// relative to the working directory unless it starts with `/` (as in `sqlite:///var/db`).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL database (15 or later) that several
    /// servers may share, in libpq's URL form; the whole URL is kept for the driver, which
    /// checks the rest of it.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a `--database-url` value; the error says what was expected.
    pub fn parse(value: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected `sqlite://PATH` (such as `sqlite://snake-arena.sqlite3`), \
             `postgres://USER@HOST:PORT/DATABASE` or `memory`";
        if value == "memory" {
            return Ok(DatabaseUrl::Memory);
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(value.to_owned()));
        }
        let Some(path) = value.strip_prefix("sqlite://") else {
            return Err(format!("`{value}` is not a database URL: {EXPECTED}"));
        };
        if path.is_empty() {
            return Err(format!("`{value}` names no file: {EXPECTED}"));
        }
        if path.contains('?') || path.contains('#') {
            return Err(format!(
                "`{value}`: options after `?` or `#` are not supported; {EXPECTED}"
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_sqlite_file_in_the_working_directory() {
        assert_eq!(
            DatabaseUrl::parse(DEFAULT_DATABASE_URL),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("snake-arena.sqlite3")))
        );
    }

    #[test]
    fn an_absolute_sqlite_path_keeps_its_leading_slash() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/snake/arena.sqlite3"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from(
                "/var/lib/snake/arena.sqlite3"
            )))
        );
    }

    #[test]
    fn memory_and_postgres_urls_are_recognised() {
        assert_eq!(DatabaseUrl::parse("memory"), Ok(DatabaseUrl::Memory));
        assert_eq!(
            DatabaseUrl::parse("postgres://user@localhost/snake"),
            Ok(DatabaseUrl::Postgres(
                "postgres://user@localhost/snake".to_owned()
            ))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://localhost"),
            Ok(DatabaseUrl::Postgres("postgresql://localhost".to_owned()))
        );
    }

    #[test]
    fn malformed_urls_are_refused_with_a_message_saying_what_was_expected() {
        for malformed in [
            "",
            "snake.sqlite3",
            "sqlite:snake.sqlite3",
            "sqlite://",
            "sqlite://a.db?mode=ro",
            "mysql://localhost",
            "Memory",
        ] {
            let error = DatabaseUrl::parse(malformed).expect_err(malformed);
            assert!(error.contains("sqlite://PATH"), "{malformed}: {error}");
        }
    }
}
