//! Live games: the server runs each game as one tokio task that advances the engine every tick,
//! takes turns through a bounded channel, publishes a frame after every tick, and records the
//! game when it ends. [`LiveGames`] is the registry the edge talks to: start, rejoin and play a
//! game with a ticket, watch one, list them, and end them all at shutdown.
//!
//! A turn takes effect at the next tick: the task hands it to [`Game::turn`] as it arrives, and
//! the engine applies queued turns one per tick. A player has one live game at a time; starting
//! another ends the first, which is recorded like any finished game. Nothing waits for anyone:
//! a player who drops only stops reading frames, and the game goes on until it ends.
//!
//! Domain code: it uses `model`, `error`, the engine and the `Store` trait, and never the HTTP
//! edge or the wire types.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::games::cluster::Cluster;
use crate::games::engine::{Direction, Game, LoggedTurn, TickOutcome, TurnOutcome};
use crate::games::frames::{
    Frame, FrameChannel, FrameEncoder, FrameEnd, Recording, SharedFrame, Subscription,
};
use crate::games::ticket::{PlayTicket, PlayTickets, TicketGrant};
use crate::model::{FinishedGame, GameEndReason, GameMode, GameOwner, PlayerProfile, ScoreEntry};
use crate::store::Store;

/// How live games run, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveGamesSettings {
    /// The time between two ticks (`--game-tick-ms`).
    pub tick: Duration,
    /// Live games at once, bots' included (`--max-live-games`).
    pub max_live_games: usize,
    /// Spectators one game may have at once, its player not counted
    /// (`--max-spectators-per-game`).
    pub max_spectators_per_game: usize,
    /// How long a play ticket stays valid (`--play-ticket-seconds`).
    pub ticket_lifetime: Duration,
    /// Frames a subscriber may fall behind before it is resynchronised to the latest one.
    pub frames_buffered_per_game: usize,
}

impl Default for LiveGamesSettings {
    fn default() -> Self {
        LiveGamesSettings {
            tick: Duration::from_millis(150),
            max_live_games: 1000,
            max_spectators_per_game: 2000,
            ticket_lifetime: Duration::from_secs(30),
            frames_buffered_per_game: FRAMES_BUFFERED_PER_GAME,
        }
    }
}

/// Frames a subscriber may fall behind: at the default tick, about five seconds.
pub const FRAMES_BUFFERED_PER_GAME: usize = 32;

/// Turns that may wait for a game's task between two ticks; beyond them a turn is dropped, as the
/// engine drops turns beyond its own queue of three.
const TURNS_BUFFERED_PER_GAME: usize = 8;

/// A game just started by a player: its id and the ticket for its play channel.
#[derive(Debug, Clone)]
pub struct StartedGame {
    pub game_id: Uuid,
    pub ticket: PlayTicket,
}

/// What a redeemed ticket (or a bot) gets: the game's frames, from the current one, and a way to
/// send turns.
#[derive(Debug)]
pub struct PlaySession {
    pub game_id: Uuid,
    pub frames: Subscription,
    pub turns: TurnSender,
}

/// Sends a player's turns to their game's task.
#[derive(Debug, Clone)]
pub struct TurnSender {
    turns: mpsc::Sender<Direction>,
}

/// What became of a turn handed to a [`TurnSender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnDelivery {
    /// The game's task will apply it before the next tick.
    Delivered,
    /// Too many turns are already waiting for the task; this one is dropped.
    DroppedBusy,
    /// The game has ended.
    GameOver,
}

impl TurnSender {
    /// Hands a turn to the game without waiting; it takes effect at the next tick.
    pub fn send(&self, direction: Direction) -> TurnDelivery {
        match self.turns.try_send(direction) {
            Ok(()) => TurnDelivery::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => TurnDelivery::DroppedBusy,
            Err(mpsc::error::TrySendError::Closed(_)) => TurnDelivery::GameOver,
        }
    }
}

/// The registry's view of one running game.
struct LiveGame {
    id: Uuid,
    owner: GameOwner,
    frames: FrameChannel,
    turns: mpsc::Sender<Direction>,
    stop: Mutex<Option<oneshot::Sender<GameEndReason>>>,
}

impl LiveGame {
    /// Asks the game's task to end the game now; the first reason given wins.
    fn stop(&self, reason: GameEndReason) {
        let sender = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The task is gone only once the game has ended, so there is nothing left to stop.
            let _ = sender.send(reason);
        }
    }

    fn session(&self, frames: Subscription) -> PlaySession {
        PlaySession {
            game_id: self.id,
            frames,
            turns: TurnSender {
                turns: self.turns.clone(),
            },
        }
    }
}

#[derive(Default)]
struct Registry {
    games: HashMap<Uuid, Arc<LiveGame>>,
    game_by_player: HashMap<Uuid, Uuid>,
    shutting_down: bool,
}

struct Shared {
    store: Arc<dyn Store>,
    /// The other instances on a shared store, whose games this one lists and streams too, and
    /// which hear this one's frames; `None` for a store one process owns.
    cluster: Option<Cluster>,
    settings: LiveGamesSettings,
    encoder: FrameEncoder,
    tickets: PlayTickets,
    registry: Mutex<Registry>,
    shutting_down: AtomicBool,
}

impl Shared {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn game(&self, game_id: Uuid) -> Result<Arc<LiveGame>> {
        self.registry()
            .games
            .get(&game_id)
            .cloned()
            .ok_or(Error::UnknownGame)
    }
}

/// The live games the server runs. Cloning it is cheap and every clone is the same registry.
#[derive(Clone)]
pub struct LiveGames {
    shared: Arc<Shared>,
}

impl LiveGames {
    /// A registry whose games record into `store` and whose frames `encoder` turns into bytes.
    pub fn new(
        store: Arc<dyn Store>,
        settings: LiveGamesSettings,
        encoder: FrameEncoder,
    ) -> LiveGames {
        Self::in_cluster(store, settings, encoder, None)
    }

    /// [`LiveGames::new`] for an instance of a cluster: its frames go to the other instances
    /// too, and their games are listed, shown and watched here as well as its own.
    pub fn in_cluster(
        store: Arc<dyn Store>,
        settings: LiveGamesSettings,
        encoder: FrameEncoder,
        cluster: Option<Cluster>,
    ) -> LiveGames {
        LiveGames {
            shared: Arc::new(Shared {
                store,
                cluster,
                tickets: PlayTickets::new(settings.ticket_lifetime),
                settings,
                encoder,
                registry: Mutex::new(Registry::default()),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    pub fn settings(&self) -> LiveGamesSettings {
        self.shared.settings
    }

    /// Starts a game for the player with a seed from the OS random source, and issues a ticket
    /// for its play channel. A game the player already has is ended first and recorded.
    pub async fn start(&self, player: &PlayerProfile, mode: GameMode) -> Result<StartedGame> {
        self.start_with_seed(player, mode, random_seed()?).await
    }

    /// [`LiveGames::start`] with a chosen seed, so tests (and replays) know where the food goes.
    pub async fn start_with_seed(
        &self,
        player: &PlayerProfile,
        mode: GameMode,
        seed: u64,
    ) -> Result<StartedGame> {
        let (game, replaced) = self.launch(
            GameOwner::Player(player.clone()),
            mode,
            seed,
            Duration::ZERO,
        )?;
        let ticket = self.shared.tickets.issue(TicketGrant {
            game_id: game.id,
            player_id: player.id,
        })?;
        if let Some(replaced) = replaced {
            replaced.stop(GameEndReason::ReplacedByNewGame);
            replaced.frames.final_frame().await;
        }
        Ok(StartedGame {
            game_id: game.id,
            ticket,
        })
    }

    /// Starts a demo bot's game and returns its play session directly: bots need no ticket,
    /// and their games never go on the leaderboard.
    pub fn start_bot(&self, name: Arc<str>, mode: GameMode) -> Result<PlaySession> {
        self.start_bot_with_first_tick_delay(name, mode, Duration::ZERO)
    }

    /// [`LiveGames::start_bot`] with the first tick a tick and `delay` after the start rather
    /// than a tick, so bots started together do not tick together: the game's ticks keep that
    /// phase, as a real player's game keeps the phase of the moment it was started.
    pub fn start_bot_with_first_tick_delay(
        &self,
        name: Arc<str>,
        mode: GameMode,
        delay: Duration,
    ) -> Result<PlaySession> {
        let (game, _) = self.launch(GameOwner::Bot(name), mode, random_seed()?, delay)?;
        Ok(game.session(game.frames.subscribe()))
    }

    /// A new ticket for the player's live game, for a player who dropped and comes back.
    pub fn rejoin(&self, player: &PlayerProfile, game_id: Uuid) -> Result<PlayTicket> {
        let game = self.shared.game(game_id)?;
        if game.owner.player_id() != Some(player.id) {
            return Err(Error::NotYourGame);
        }
        self.shared.tickets.issue(TicketGrant {
            game_id,
            player_id: player.id,
        })
    }

    /// Redeems a play ticket (once) for the game's play session: its current frame and every
    /// later one, and its turns.
    pub fn play(&self, ticket: &str) -> Result<PlaySession> {
        let grant = self.shared.tickets.redeem(ticket)?;
        let game = self.shared.game(grant.game_id)?;
        if game.owner.player_id() != Some(grant.player_id) {
            return Err(Error::NotYourGame);
        }
        Ok(game.session(game.frames.subscribe()))
    }

    /// Watches a game, this instance's or another's: its current frame, then every later one,
    /// then the final one. Refused with `TooManySpectators` beyond the per-game cap (of this
    /// instance's spectators).
    pub fn watch(&self, game_id: Uuid) -> Result<Subscription> {
        let max = self.shared.settings.max_spectators_per_game;
        match self.shared.game(game_id) {
            Ok(game) => game.frames.subscribe_as_spectator(max),
            Err(unknown) => self
                .cluster()
                .and_then(|cluster| cluster.watch(game_id, max))
                .unwrap_or(Err(unknown)),
        }
    }

    /// The game's latest frame, this instance's game or another's.
    pub fn current_frame(&self, game_id: Uuid) -> Result<SharedFrame> {
        match self.shared.game(game_id) {
            Ok(game) => Ok(game.frames.latest()),
            Err(unknown) => self
                .cluster()
                .and_then(|cluster| cluster.current_frame(game_id))
                .ok_or(unknown),
        }
    }

    /// The latest frame of one of this instance's own games.
    pub fn current_local_frame(&self, game_id: Uuid) -> Result<SharedFrame> {
        Ok(self.shared.game(game_id)?.frames.latest())
    }

    /// The latest frame of every game still running (not of those just ending), this
    /// instance's and the other instances', in no particular order.
    pub fn current_frames(&self) -> Vec<SharedFrame> {
        let games: Vec<_> = self.shared.registry().games.values().cloned().collect();
        let mut frames: Vec<SharedFrame> = games
            .iter()
            .map(|game| game.frames.latest())
            .filter(|frame| !frame.is_final())
            .collect();
        if let Some(cluster) = self.cluster() {
            frames.extend(cluster.current_frames());
        }
        frames
    }

    /// How many spectators (of this instance) watch the game now, its player not counted.
    pub fn spectator_count(&self, game_id: Uuid) -> Result<usize> {
        match self.shared.game(game_id) {
            Ok(game) => Ok(game.frames.spectator_count()),
            Err(unknown) => self
                .cluster()
                .and_then(|cluster| cluster.spectator_count(game_id))
                .ok_or(unknown),
        }
    }

    /// This instance's membership of a cluster, if its store is shared.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.shared.cluster.as_ref()
    }

    /// How many games are live, ending ones included.
    pub fn live_game_count(&self) -> usize {
        self.shared.registry().games.len()
    }

    /// The player's live game, if they have one.
    pub fn game_of(&self, player_id: Uuid) -> Option<Uuid> {
        self.shared
            .registry()
            .game_by_player
            .get(&player_id)
            .copied()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Acquire)
    }

    /// Refuses new games, ends every live game with a final frame saying the server is shutting
    /// down, and returns once all of them are recorded. The caller bounds the wait.
    pub async fn shut_down(&self) {
        let games: Vec<_> = {
            let mut registry = self.shared.registry();
            registry.shutting_down = true;
            self.shared.shutting_down.store(true, Ordering::Release);
            registry.games.values().cloned().collect()
        };
        for game in &games {
            game.stop(GameEndReason::ServerShutdown);
        }
        for game in &games {
            game.frames.final_frame().await;
        }
        if let Some(cluster) = self.cluster() {
            cluster.flush().await;
        }
    }

    /// Registers a new game and spawns its task, returning it and the owner's previous game,
    /// which the caller must stop. The first tick comes a tick and `first_tick_delay` after now.
    fn launch(
        &self,
        owner: GameOwner,
        mode: GameMode,
        seed: u64,
        first_tick_delay: Duration,
    ) -> Result<(Arc<LiveGame>, Option<Arc<LiveGame>>)> {
        let settings = self.shared.settings;
        let game_id = Uuid::new_v4();
        let engine = Game::new(mode, seed);
        let username: Arc<str> = owner.username().into();
        let first_frame = Frame {
            sequence: 0,
            game_id,
            username: Arc::clone(&username),
            mode,
            view: engine.view(),
            ticked_at: Frame::tick_time_now(),
            end: None,
        };
        let (turn_sender, turn_receiver) = mpsc::channel(TURNS_BUFFERED_PER_GAME);
        let (stop_sender, stop_receiver) = oneshot::channel();
        let game = Arc::new(LiveGame {
            id: game_id,
            owner: owner.clone(),
            frames: FrameChannel::new(
                first_frame,
                settings.frames_buffered_per_game,
                Arc::clone(&self.shared.encoder),
            ),
            turns: turn_sender,
            stop: Mutex::new(Some(stop_sender)),
        });

        let replaced = {
            let mut registry = self.shared.registry();
            if registry.shutting_down {
                return Err(Error::ShuttingDown);
            }
            let replaced = owner
                .player_id()
                .and_then(|player_id| registry.game_by_player.get(&player_id))
                .and_then(|previous| registry.games.get(previous))
                .cloned();
            let live_after_replacing = registry.games.len() - usize::from(replaced.is_some());
            if live_after_replacing >= settings.max_live_games {
                return Err(Error::TooManyLiveGames);
            }
            registry.games.insert(game_id, Arc::clone(&game));
            if let Some(player_id) = owner.player_id() {
                registry.game_by_player.insert(player_id, game_id);
            }
            replaced
        };

        if let Some(cluster) = &self.shared.cluster {
            cluster.publish(Arc::clone(&game.frames.latest().frame), settings.tick);
        }
        let runner = GameRunner {
            shared: Arc::clone(&self.shared),
            game: Arc::clone(&game),
            engine,
            username,
            started_at: Utc::now(),
            turn_log: Vec::new(),
            sequence: 0,
            first_tick_delay,
        };
        tokio::spawn(runner.run(turn_receiver, stop_receiver));
        Ok((game, replaced))
    }
}

/// A game's seed, from the OS random source.
fn random_seed() -> Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|os_error| {
        Error::Internal(format!(
            "the OS random source failed while seeding a game: {os_error}"
        ))
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// The task that plays one game.
struct GameRunner {
    shared: Arc<Shared>,
    game: Arc<LiveGame>,
    engine: Game,
    username: Arc<str>,
    started_at: DateTime<Utc>,
    turn_log: Vec<LoggedTurn>,
    sequence: u64,
    /// How much later than one tick after the start the first tick comes.
    first_tick_delay: Duration,
}

impl GameRunner {
    async fn run(
        mut self,
        mut turns: mpsc::Receiver<Direction>,
        mut stop: oneshot::Receiver<GameEndReason>,
    ) {
        let tick = self.shared.settings.tick;
        let mut ticker =
            tokio::time::interval_at(Instant::now() + tick + self.first_tick_delay, tick);
        // A tick the runtime could not run on time is run late, and the next one a full tick
        // after it: spectators never get a burst of frames.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let reason = loop {
            tokio::select! {
                // A stop comes first, then turns that arrived before the tick, then the tick.
                biased;
                reason = &mut stop => {
                    break reason.unwrap_or(GameEndReason::ServerShutdown);
                }
                Some(direction) = turns.recv() => {
                    let tick = self.engine.ticks();
                    // Only queued turns change anything, so only they are logged; this keeps
                    // the log as short as the game, however many turns a client sends.
                    if self.engine.turn(direction) == TurnOutcome::Queued {
                        self.turn_log.push(LoggedTurn { tick, direction });
                    }
                }
                _ = ticker.tick() => {
                    if let TickOutcome::Ended(cause) = self.engine.advance() {
                        break GameEndReason::Rules(cause);
                    }
                    self.publish(None);
                }
            }
        };
        // No turn is accepted once the game has ended.
        turns.close();
        let recording = self.record(reason).await;
        self.publish(Some(FrameEnd { reason, recording }));
        self.unregister();
    }

    fn publish(&mut self, end: Option<FrameEnd>) {
        self.sequence += 1;
        let frame = Arc::new(Frame {
            sequence: self.sequence,
            game_id: self.game.id,
            username: Arc::clone(&self.username),
            mode: self.engine.mode(),
            view: self.engine.view(),
            ticked_at: Frame::tick_time_now(),
            end,
        });
        // The other instances get it first: once the final frame is out here, shutting down
        // flushes the outbox, which must hold it by then.
        if let Some(cluster) = &self.shared.cluster {
            cluster.publish(Arc::clone(&frame), self.shared.settings.tick);
        }
        self.game.frames.publish_shared(frame);
    }

    /// Records a player's finished game with its verified score, in one store call.
    async fn record(&mut self, reason: GameEndReason) -> Recording {
        let GameOwner::Player(player) = &self.game.owner else {
            return Recording::NotOnLeaderboard;
        };
        let ended_at = Utc::now();
        let finished = FinishedGame {
            id: self.game.id,
            player_id: player.id,
            username: Arc::clone(&self.username),
            mode: self.engine.mode(),
            seed: self.engine.seed(),
            turns: std::mem::take(&mut self.turn_log),
            ticks: self.engine.ticks(),
            tick: self.shared.settings.tick,
            score: self.engine.score(),
            started_at: self.started_at,
            ended_at,
            end: reason,
        };
        let entry = ScoreEntry {
            id: ScoreEntry::new_id(),
            player_id: player.id,
            username: Arc::clone(&self.username),
            score: self.engine.score(),
            mode: self.engine.mode(),
            recorded_at: ended_at,
            verified: true,
            game_id: Some(self.game.id),
        };
        match self
            .shared
            .store
            .record_finished_game(finished, Some(entry.clone()))
            .await
        {
            Ok(()) => Recording::Verified(entry),
            Err(error) => Recording::Failed(error),
        }
    }

    fn unregister(&self) {
        let mut registry = self.shared.registry();
        registry.games.remove(&self.game.id);
        if let Some(player_id) = self.game.owner.player_id()
            && registry.game_by_player.get(&player_id) == Some(&self.game.id)
        {
            registry.game_by_player.remove(&player_id);
        }
    }
}

#[cfg(test)]
mod tests;
