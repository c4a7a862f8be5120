//! The server's configuration: one documented struct, read from flags and environment
//! variables, whose defaults make a bare `cargo run` serve a seeded game on 127.0.0.1:8000.

use std::net::SocketAddr;

use crate::password::ScryptCost;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "snake-arena-server",
    version,
    about = "Snake Arena game API: accounts, leaderboard and spectating, served from openapi.yaml"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "SNAKE_ARENA_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// Start with an empty store instead of the demo players, scores and active games.
    #[arg(long, env = "SNAKE_ARENA_NO_SEED")]
    pub no_seed: bool,

    /// Least severe log level written to stderr.
    #[arg(
        long,
        env = "SNAKE_ARENA_LOG_LEVEL",
        value_enum,
        default_value = "info"
    )]
    pub log_level: LogLevel,

    /// How long a login token stays valid, in minutes.
    #[arg(long, env = "SNAKE_ARENA_TOKEN_LIFETIME_MINUTES", default_value_t = 7 * 24 * 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_lifetime_minutes: u32,

    /// scrypt cost as log2(N). The default 17 (with r=8, p=1) is OWASP's recommendation; lower
    /// it only for tests or development, since it is what makes stolen hashes slow to crack.
    #[arg(long, env = "SNAKE_ARENA_SCRYPT_LOG_N", default_value_t = 17)]
    pub scrypt_log_n: u8,

    /// scrypt block size r.
    #[arg(long, env = "SNAKE_ARENA_SCRYPT_R", default_value_t = 8)]
    pub scrypt_r: u32,

    /// scrypt parallelism p.
    #[arg(long, env = "SNAKE_ARENA_SCRYPT_P", default_value_t = 1)]
    pub scrypt_p: u32,

    /// Password hashes computed at once. Each holds 128 MiB at the default cost.
    #[arg(long, env = "SNAKE_ARENA_HASHING_SLOTS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub hashing_slots: u16,

    /// Signups and logins that may wait for a hashing slot; beyond them the answer is 503.
    #[arg(long, env = "SNAKE_ARENA_HASHING_QUEUE", default_value_t = 32)]
    pub hashing_queue: u16,
}

impl Config {
    /// The defaults, with no flags and no environment read.
    pub fn defaults() -> Self {
        <Self as clap::Parser>::parse_from(["snake-arena-server"])
    }

    pub fn scrypt_cost(&self) -> Result<ScryptCost, String> {
        ScryptCost::new(self.scrypt_log_n, self.scrypt_r, self.scrypt_p)
    }
}
