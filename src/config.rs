//! The server's configuration: one documented struct, read from flags and environment
//! variables, whose defaults make a bare `cargo run` serve a seeded game on 127.0.0.1:8000.

use std::net::SocketAddr;

use crate::accounts::password::ScryptCost;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A setting that is either on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, for a terminal.
    Terminal,
    /// One JSON object per line (`ts`, `level`, `msg` and the event's fields), for log collectors.
    Json,
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

    /// Where the data lives: `sqlite://PATH` (a SQLite file, created and migrated on first start;
    /// a relative path is from the working directory, `sqlite:///abs/path` is absolute),
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (PostgreSQL 15 or later, which several
    /// servers may share; the database must exist, the schema is migrated on start) or `memory`
    /// (forgotten on exit).
    #[arg(long, env = "SNAKE_ARENA_DATABASE_URL", default_value = crate::store::DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Start with an empty store instead of the demo players and scores, and without demo bots.
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

    /// How log lines are written to stderr.
    #[arg(
        long,
        env = "SNAKE_ARENA_LOG_FORMAT",
        value_enum,
        default_value = "terminal"
    )]
    pub log_format: LogFormat,

    /// A browser origin allowed to call the API (CORS), such as `https://snake.example.com` or
    /// `http://localhost:*` (any port). Repeat the flag, or separate origins with commas in the
    /// environment variable. `*` admits every origin. The default admits any port on localhost,
    /// 127.0.0.1 and [::1], for frontend dev servers.
    #[arg(
        long = "cors-origin",
        env = "SNAKE_ARENA_CORS_ORIGINS",
        value_delimiter = ',',
        default_values_t = crate::http::cors::DEFAULT_ALLOWED_ORIGINS.iter().map(|origin| origin.to_string()).collect::<Vec<_>>()
    )]
    pub cors_origins: Vec<String>,

    /// A proxy (such as nginx in front of several instances) whose `X-Forwarded-For` header is
    /// believed for the client's address, which the per-client limits on sign-ups and failed
    /// logins count by. Repeat the flag, or separate addresses with commas in the environment
    /// variable. Without it the connection's own address is the client's, and behind a proxy every
    /// client would share the proxy's.
    #[arg(
        long = "trusted-proxy",
        env = "SNAKE_ARENA_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Largest request body accepted, in bytes; larger bodies get 413 before they are parsed.
    #[arg(long, env = "SNAKE_ARENA_MAX_BODY_BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u32).range(256..=16 * 1024 * 1024))]
    pub max_body_bytes: u32,

    /// Connections served at once. Beyond it, new connections wait (in the operating system's
    /// listen backlog) until one closes. Keep it below the open-file limit (`ulimit -n`).
    #[arg(long, env = "SNAKE_ARENA_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// How long a connection may go without a request in progress, in seconds: a request's
    /// headers must arrive in full within it of the connection opening or of the previous
    /// answer, and an idle keep-alive connection is closed after it.
    #[arg(long, env = "SNAKE_ARENA_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub header_timeout_seconds: u16,

    /// How long a request body may take to arrive in full once the headers are in, in seconds;
    /// a slower one is answered 408 and its connection closed.
    #[arg(long, env = "SNAKE_ARENA_BODY_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub body_timeout_seconds: u16,

    /// On SIGINT or SIGTERM, how long requests in flight may take to finish, in seconds, before
    /// the server exits anyway.
    #[arg(long, env = "SNAKE_ARENA_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u16,

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

    /// How long, in seconds, a signup or login may wait for a hashing slot; after it the answer
    /// is 503, so a burst is answered within about this long whatever the machine's speed.
    #[arg(long, env = "SNAKE_ARENA_HASHING_WAIT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub hashing_wait_seconds: u16,

    /// Failed logins allowed per account in an hour (OWASP ASVS 2.2.1 asks for at most 100);
    /// beyond it, 429 until the hour has room again. 0 turns the limit off.
    #[arg(
        long,
        env = "SNAKE_ARENA_FAILED_LOGINS_PER_ACCOUNT_PER_HOUR",
        default_value_t = 100
    )]
    pub failed_logins_per_account_per_hour: u32,

    /// Failed logins allowed per client address (IPv6: per /64) in an hour, whatever the
    /// account. 0 turns the limit off.
    #[arg(
        long,
        env = "SNAKE_ARENA_FAILED_LOGINS_PER_CLIENT_PER_HOUR",
        default_value_t = 300
    )]
    pub failed_logins_per_client_per_hour: u32,

    /// Accounts that may be created per client address in an hour (enough for a LAN party
    /// behind one address). 0 turns the limit off.
    #[arg(
        long,
        env = "SNAKE_ARENA_SIGNUPS_PER_CLIENT_PER_HOUR",
        default_value_t = 60
    )]
    pub signups_per_client_per_hour: u32,

    /// Sessions (tokens) one player may hold at once; logging in beyond it ends the oldest.
    #[arg(long, env = "SNAKE_ARENA_MAX_SESSIONS_PER_PLAYER", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_sessions_per_player: u16,

    /// Scores a player may submit per minute. 0 turns the limit off.
    #[arg(
        long,
        env = "SNAKE_ARENA_SCORE_SUBMISSIONS_PER_PLAYER_PER_MINUTE",
        default_value_t = 30
    )]
    pub score_submissions_per_player_per_minute: u32,

    /// Time between two ticks of a live game, in milliseconds; a turn takes effect at the next
    /// tick. The default is the workshop frontend's speed.
    #[arg(long, env = "SNAKE_ARENA_GAME_TICK_MS", default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub game_tick_ms: u32,

    /// Live games the server runs at once, demo bots' included; beyond it, starting a game is
    /// refused with 503.
    #[arg(long, env = "SNAKE_ARENA_MAX_LIVE_GAMES", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_live_games: u32,

    /// Spectators one live game may have at once, its player not counted; beyond it, watching is
    /// refused with 503.
    #[arg(long, env = "SNAKE_ARENA_MAX_SPECTATORS_PER_GAME", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_spectators_per_game: u32,

    /// How long a play ticket (which admits a player to their game's play channel, once) stays
    /// valid, in seconds.
    #[arg(long, env = "SNAKE_ARENA_PLAY_TICKET_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub play_ticket_seconds: u32,

    /// Whether `POST /api/leaderboard` takes scores the client reports itself (marked
    /// unverified), as the workshop frontend needs; `off` refuses them with 403, so only games
    /// played on the server reach the leaderboard.
    #[arg(
        long,
        env = "SNAKE_ARENA_SELF_REPORTED_SCORES",
        value_enum,
        default_value = "on"
    )]
    pub self_reported_scores: Switch,

    /// WebSocket channels (play and watch) open at once; beyond it, opening one is refused with
    /// 503. Upgraded connections leave `--max-connections`, so this bounds them instead.
    #[arg(long, env = "SNAKE_ARENA_MAX_CHANNELS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_channels: u32,

    /// How often a channel pings its client, in seconds.
    #[arg(long, env = "SNAKE_ARENA_CHANNEL_PING_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub channel_ping_seconds: u32,

    /// How long a channel's client may stay silent (no message, no pong), in seconds, before the
    /// server closes the channel.
    #[arg(long, env = "SNAKE_ARENA_CHANNEL_SILENCE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub channel_silence_seconds: u32,

    /// On PostgreSQL, how often an instance with no frames to send tells the others it is
    /// alive, in milliseconds.
    #[arg(long, env = "SNAKE_ARENA_INSTANCE_HEARTBEAT_MS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..=60_000))]
    pub instance_heartbeat_ms: u32,

    /// On PostgreSQL, how long another instance may go unheard, in milliseconds, before its live
    /// games leave this instance's list and their watchers here get a final frame saying the
    /// game was lost; at least twice `--instance-heartbeat-ms`.
    #[arg(long, env = "SNAKE_ARENA_INSTANCE_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(20..=600_000))]
    pub instance_timeout_ms: u32,

    /// On PostgreSQL, how long a lease on answering sessions from memory lasts, in
    /// milliseconds; renewed every quarter of it. A logout waits for every other instance to
    /// acknowledge it, and for one that does not (stopped, cut off) at most this long. Every
    /// instance on one database should use the same value.
    #[arg(long, env = "SNAKE_ARENA_SESSION_LEASE_MS", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=60_000))]
    pub session_lease_ms: u32,

    /// Demo bots that play live games one after another so there is something to watch;
    /// `--no-seed` turns them off. At most `--max-live-games`.
    #[arg(long, env = "SNAKE_ARENA_DEMO_BOTS", default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub demo_bots: u16,

    /// Days a finished game's replay is kept; older ones are pruned unless their score is among
    /// the best 100 verified scores of their mode, which are kept for good.
    #[arg(long, env = "SNAKE_ARENA_REPLAY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub replay_retention_days: u32,

    /// Minutes between two prunes of old replays.
    #[arg(long, env = "SNAKE_ARENA_REPLAY_PRUNE_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_080))]
    pub replay_prune_minutes: u32,

    /// How long a leaderboard is answered from the server's cache, in milliseconds, when no write
    /// drops it first. Scores written through this server drop it at once, and on PostgreSQL so
    /// do other servers' (LISTEN/NOTIFY); this bounds how stale a board can be when a change
    /// notification is lost. 0 reads the store on every request.
    #[arg(long, env = "SNAKE_ARENA_LEADERBOARD_CACHE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=3_600_000))]
    pub leaderboard_cache_ms: u32,

    /// For benchmarks: fill the store with this many generated scores at start-up, through the
    /// store, as if that many games had been submitted (`cargo xtask bench` measures leaderboard
    /// reads and memory with it). Hidden from `--help`: it is no setting for a real deployment.
    #[arg(
        long,
        env = "SNAKE_ARENA_SYNTHETIC_SCORES",
        default_value_t = 0,
        hide = true
    )]
    pub synthetic_scores: u64,
}

impl Config {
    /// The defaults, with no flags and no environment read.
    pub fn defaults() -> Self {
        <Self as clap::Parser>::parse_from(["snake-arena-server"])
    }

    /// How long a lease on answering sessions from memory lasts (PostgreSQL).
    pub fn session_lease(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.session_lease_ms))
    }

    /// How long a cached leaderboard is kept when no write drops it.
    pub fn leaderboard_cache_time_to_live(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.leaderboard_cache_ms))
    }

    /// The connection cap and idle timeout this configuration asks for.
    pub fn connection_limits(&self) -> dropshot::ConnectionLimits {
        dropshot::ConnectionLimits {
            max_connections: self.max_connections as usize,
            idle_timeout: std::time::Duration::from_secs(u64::from(self.header_timeout_seconds)),
        }
    }

    /// How long a request body may take to arrive.
    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.body_timeout_seconds))
    }

    pub fn cors_policy(&self) -> Result<crate::http::cors::CorsPolicy, String> {
        crate::http::cors::CorsPolicy::from_origins(&self.cors_origins)
    }

    /// The login and sign-up limits this configuration asks for.
    pub fn auth_limits(&self) -> crate::accounts::rate_limit::AuthLimits {
        use crate::accounts::rate_limit::{AuthLimits, HOUR, RateLimiter};
        AuthLimits {
            failed_logins_per_account: RateLimiter::optional(
                self.failed_logins_per_account_per_hour,
                HOUR,
            ),
            failed_logins_per_client: RateLimiter::optional(
                self.failed_logins_per_client_per_hour,
                HOUR,
            ),
            signups_per_client: RateLimiter::optional(self.signups_per_client_per_hour, HOUR),
            sessions_per_player: usize::from(self.max_sessions_per_player),
        }
    }

    /// The score submission limit this configuration asks for.
    pub fn score_submission_limit(&self) -> crate::accounts::rate_limit::RateLimiter {
        use crate::accounts::rate_limit::{MINUTE, RateLimiter};
        RateLimiter::optional(self.score_submissions_per_player_per_minute, MINUTE)
    }

    /// How long finished games are kept and how often old ones are pruned.
    pub fn retention_settings(&self) -> crate::games::replays::RetentionSettings {
        crate::games::replays::RetentionSettings {
            keep_for: chrono::Duration::days(i64::from(self.replay_retention_days)),
            prune_every: std::time::Duration::from_secs(u64::from(self.replay_prune_minutes) * 60),
        }
    }

    /// How the instances on a shared store keep in touch; an error when the timeout is shorter
    /// than two heartbeats, which would take a live instance for a dead one.
    pub fn cluster_settings(&self) -> Result<crate::games::cluster::ClusterSettings, String> {
        if self.instance_timeout_ms < 2 * self.instance_heartbeat_ms {
            return Err(format!(
                "--instance-timeout-ms {} must be at least twice --instance-heartbeat-ms {}",
                self.instance_timeout_ms, self.instance_heartbeat_ms
            ));
        }
        Ok(crate::games::cluster::ClusterSettings {
            heartbeat: std::time::Duration::from_millis(u64::from(self.instance_heartbeat_ms)),
            instance_timeout: std::time::Duration::from_millis(u64::from(self.instance_timeout_ms)),
        })
    }

    /// How live games run: tick, caps and ticket lifetime.
    pub fn live_games_settings(&self) -> crate::games::live::LiveGamesSettings {
        crate::games::live::LiveGamesSettings {
            tick: std::time::Duration::from_millis(u64::from(self.game_tick_ms)),
            max_live_games: self.max_live_games as usize,
            max_spectators_per_game: self.max_spectators_per_game as usize,
            ticket_lifetime: std::time::Duration::from_secs(u64::from(self.play_ticket_seconds)),
            frames_buffered_per_game: crate::games::live::FRAMES_BUFFERED_PER_GAME,
        }
    }

    pub fn scrypt_cost(&self) -> Result<ScryptCost, String> {
        ScryptCost::new(self.scrypt_log_n, self.scrypt_r, self.scrypt_p)
    }
}
