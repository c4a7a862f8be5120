//! Live games across instances: several servers on one shared store (PostgreSQL) show and stream
//! each other's live games. Each instance runs its own games (see `live`) and publishes their
//! frames on the store's [`InstanceBus`]; every other instance keeps the latest frame of each
//! game it hears of, lists it, and hands its frames to its own watchers.
//!
//! - **Publishing.** A game's task hands each frame to this instance's outbox, which one task
//!   empties: everything waiting when it gets to it (the frames of every game that ticked since
//!   the last round) goes out in one bus call, packed into as few messages as fit under the
//!   bus's size limit. While one call is on its way, the next round's frames gather, so a busy
//!   instance sends bigger batches, not more of them. An instance with nothing to send says it is
//!   alive every `heartbeat`.
//! - **Receiving.** Every message names its instance, so anything heard from an instance is a
//!   sign of life. A remote game is known from its first frame heard and forgotten after its
//!   final frame. Each frame is the whole game at one tick, so a watcher needs no earlier frame
//!   to draw it: frames older than or equal to the latest one held are dropped, so nobody sees a
//!   frame twice or out of order, and a listener that lost its connection carries on from the
//!   next frame heard, with a gap in the sequence numbers, which is what a lagging local watcher
//!   gets too.
//! - **Losing.** An instance not heard from for `instance_timeout` is taken for dead: each of its
//!   games leaves the list and its watchers get a final frame whose end is
//!   [`GameEndReason::InstanceLost`]. So does a game not heard from for that long (or four of its
//!   ticks, if longer) while its instance still speaks, which is a game whose final frame was
//!   missed.
//!
//! Domain code: it uses `model`, `error`, the frames and the `Store` trait's bus, and never the
//! HTTP edge or the wire types.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::games::engine::{Direction, EndCause, GameView};
use crate::games::frames::{
    Frame, FrameChannel, FrameEncoder, FrameEnd, Recording, SharedFrame, Subscription,
};
use crate::model::{Cell, GameEndReason, GameMode, ScoreEntry};
use crate::store::{BusEvent, BusListener, InstanceBus, MAX_BUS_MESSAGE_BYTES};

/// How the instances keep in touch, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSettings {
    /// How often an instance with nothing else to send says it is alive
    /// (`--instance-heartbeat-ms`).
    pub heartbeat: Duration,
    /// How long an instance may go unheard before its games are taken for lost
    /// (`--instance-timeout-ms`).
    pub instance_timeout: Duration,
}

/// Frames that may wait in the outbox; beyond them a frame is not sent to other instances (their
/// watchers see a gap) rather than held without bound while the store is slow.
const OUTBOX_CAPACITY: usize = 8192;

/// What the cluster's tasks have to tell the operator.
#[derive(Debug)]
pub enum ClusterEvent {
    /// Publishing a batch of frames failed; other instances miss them.
    PublishFailed { frames: usize, error: Error },
    /// The outbox was full and frames were not sent.
    FramesDropped { frames: u64 },
    /// The listener could not reach the bus; it tries again.
    ListenFailed(Error),
    /// The listener lost its connection and listens again on a new one.
    ListenerReconnected,
    /// A message on the bus this instance cannot read (another version of the server?).
    UnreadableMessage(String),
    /// An instance went unheard for too long, or games of one stopped being heard: its games
    /// ended for this instance's watchers.
    GamesLost { instance: Uuid, games: usize },
}

/// Where the cluster's events go (the server logs them).
pub type ClusterEvents = Arc<dyn Fn(ClusterEvent) + Send + Sync>;

/// What goes through the outbox.
enum Outgoing {
    Frame {
        frame: Arc<Frame>,
        tick: Duration,
    },
    /// Answered once everything before it has been published.
    Flush(oneshot::Sender<()>),
}

/// A game another instance runs, as this one knows it.
struct RemoteGame {
    instance: Uuid,
    frames: FrameChannel,
    tick: Duration,
    last_heard: Instant,
}

#[derive(Default)]
struct Remote {
    games: HashMap<Uuid, RemoteGame>,
    instances_heard: HashMap<Uuid, Instant>,
}

struct Shared {
    instance: Uuid,
    settings: ClusterSettings,
    encoder: FrameEncoder,
    frames_buffered_per_game: usize,
    remote: Mutex<Remote>,
    events: ClusterEvents,
}

impl Shared {
    fn remote(&self) -> std::sync::MutexGuard<'_, Remote> {
        self.remote.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// This instance's membership of the cluster: its outbox and what it knows of the others'
/// games. Cloning it is cheap and every clone is the same membership.
#[derive(Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Outgoing>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl Cluster {
    /// Joins the cluster on `bus` as a new instance: listens first (so every frame published
    /// from now on is heard), then starts the tasks that publish, listen and sweep out lost
    /// games, which run as long as the runtime.
    pub async fn join(
        bus: Arc<dyn InstanceBus>,
        settings: ClusterSettings,
        encoder: FrameEncoder,
        frames_buffered_per_game: usize,
        events: ClusterEvents,
    ) -> Result<Cluster> {
        let listener = bus.listen().await?;
        let shared = Arc::new(Shared {
            instance: Uuid::new_v4(),
            settings,
            encoder,
            frames_buffered_per_game,
            remote: Mutex::new(Remote::default()),
            events,
        });
        let (outbox, outbox_receiver) = mpsc::channel(OUTBOX_CAPACITY);
        tokio::spawn(publish(Arc::clone(&shared), bus, outbox_receiver));
        tokio::spawn(listen(Arc::clone(&shared), listener));
        tokio::spawn(sweep(Arc::clone(&shared)));
        Ok(Cluster {
            shared,
            outbox,
            dropped: Arc::default(),
        })
    }

    /// This instance's id, which it signs every message with.
    pub fn instance(&self) -> Uuid {
        self.shared.instance
    }

    /// Hands one of this instance's frames to the other instances, without waiting.
    pub(crate) fn publish(&self, frame: Arc<Frame>, tick: Duration) {
        if self
            .outbox
            .try_send(Outgoing::Frame { frame, tick })
            .is_err()
        {
            use std::sync::atomic::Ordering;
            // Reported in round numbers, so a long stall does not flood the log.
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(1000) {
                (self.shared.events)(ClusterEvent::FramesDropped { frames: dropped });
            }
        }
    }

    /// Returns once every frame handed over before the call has been published (or failed to
    /// be): at shutdown, so the final frames reach the other instances before the process ends.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.outbox.send(Outgoing::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// A remote game's latest frame.
    pub fn current_frame(&self, game_id: Uuid) -> Option<SharedFrame> {
        self.shared
            .remote()
            .games
            .get(&game_id)
            .map(|game| game.frames.latest())
    }

    /// The latest frame of every remote game this instance knows of.
    pub fn current_frames(&self) -> Vec<SharedFrame> {
        self.shared
            .remote()
            .games
            .values()
            .map(|game| game.frames.latest())
            .collect()
    }

    /// Watches a remote game: its latest frame, then every later one heard, then its final one
    /// (or the one saying it was lost). `None` when no other instance runs it.
    pub fn watch(&self, game_id: Uuid, max_spectators: usize) -> Option<Result<Subscription>> {
        self.shared
            .remote()
            .games
            .get(&game_id)
            .map(|game| game.frames.subscribe_as_spectator(max_spectators))
    }

    /// How many spectators on this instance watch a remote game.
    pub fn spectator_count(&self, game_id: Uuid) -> Option<usize> {
        self.shared
            .remote()
            .games
            .get(&game_id)
            .map(|game| game.frames.spectator_count())
    }
}

/// The publishing task: empties the outbox in rounds, one bus call each.
async fn publish(
    shared: Arc<Shared>,
    bus: Arc<dyn InstanceBus>,
    mut outbox: mpsc::Receiver<Outgoing>,
) {
    let heartbeat = shared.settings.heartbeat;
    let mut silence = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    loop {
        let first = tokio::select! {
            item = outbox.recv() => match item {
                Some(item) => Some(item),
                None => return,
            },
            _ = silence.tick() => None,
        };
        let mut frames = Vec::new();
        let mut flushed = Vec::new();
        let mut take = |item: Outgoing| match item {
            Outgoing::Frame { frame, tick } => frames.push(encode_for_bus(&frame, tick)),
            Outgoing::Flush(done) => flushed.push(done),
        };
        if let Some(first) = first {
            take(first);
        }
        while let Ok(item) = outbox.try_recv() {
            take(item);
        }
        let count = frames.len();
        let messages = pack(shared.instance, frames);
        if let Err(error) = bus.publish(messages).await {
            (shared.events)(ClusterEvent::PublishFailed {
                frames: count,
                error,
            });
        }
        silence.reset();
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// The listening task: hands every message heard to [`receive`].
async fn listen(shared: Arc<Shared>, mut listener: Box<dyn BusListener>) {
    loop {
        match listener.next().await {
            Ok(BusEvent::Message(message)) => receive(&shared, &message, Instant::now()),
            Ok(BusEvent::Reconnected) => (shared.events)(ClusterEvent::ListenerReconnected),
            Err(error) => (shared.events)(ClusterEvent::ListenFailed(error)),
        }
    }
}

/// The sweeping task: every heartbeat, ends the remote games that went unheard for too long.
async fn sweep(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(shared.settings.heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        sweep_once(&shared, Instant::now());
    }
}

/// Takes in one message from the bus: every frame newer than the one held for its game.
fn receive(shared: &Shared, message: &str, now: Instant) {
    let batch: BusBatch = match serde_json::from_str(message) {
        Ok(batch) => batch,
        Err(error) => {
            (shared.events)(ClusterEvent::UnreadableMessage(error.to_string()));
            return;
        }
    };
    if batch.instance == shared.instance {
        return;
    }
    let mut remote = shared.remote();
    remote.instances_heard.insert(batch.instance, now);
    for bus_frame in batch.frames {
        let tick = Duration::from_millis(u64::from(bus_frame.tick_ms));
        let frame = match bus_frame.into_frame() {
            Ok(frame) => frame,
            Err(problem) => {
                (shared.events)(ClusterEvent::UnreadableMessage(problem));
                continue;
            }
        };
        match remote.games.entry(frame.game_id) {
            Entry::Occupied(mut known) => {
                let game = known.get_mut();
                if frame.sequence <= game.frames.latest().sequence() {
                    continue;
                }
                game.instance = batch.instance;
                game.last_heard = now;
                game.tick = tick;
                let is_final = frame.is_final();
                game.frames.publish(frame);
                if is_final {
                    known.remove();
                }
            }
            // A game first heard of at its end is not worth listing.
            Entry::Vacant(_) if frame.is_final() => {}
            Entry::Vacant(unknown) => {
                unknown.insert(RemoteGame {
                    instance: batch.instance,
                    frames: FrameChannel::new(
                        frame,
                        shared.frames_buffered_per_game,
                        Arc::clone(&shared.encoder),
                    ),
                    tick,
                    last_heard: now,
                });
            }
        }
    }
}

/// Ends, with a final frame saying so, every remote game whose instance (or which itself) went
/// unheard for too long.
fn sweep_once(shared: &Shared, now: Instant) {
    let timeout = shared.settings.instance_timeout;
    let mut remote = shared.remote();
    let remote = &mut *remote;
    remote
        .instances_heard
        .retain(|_, heard| now.duration_since(*heard) < timeout);
    let lost: Vec<Uuid> = remote
        .games
        .iter()
        .filter(|(_, game)| {
            let instance_quiet = !remote.instances_heard.contains_key(&game.instance);
            let game_quiet = now.duration_since(game.last_heard) >= timeout.max(game.tick * 4);
            instance_quiet || game_quiet
        })
        .map(|(id, _)| *id)
        .collect();
    let mut lost_by_instance: HashMap<Uuid, usize> = HashMap::new();
    for game_id in lost {
        let Some(game) = remote.games.remove(&game_id) else {
            continue;
        };
        *lost_by_instance.entry(game.instance).or_default() += 1;
        let latest = game.frames.latest();
        game.frames.publish(Frame {
            sequence: latest.sequence() + 1,
            ticked_at: Frame::tick_time_now(),
            end: Some(FrameEnd {
                reason: GameEndReason::InstanceLost,
                recording: Recording::NotOnLeaderboard,
            }),
            ..(*latest.frame).clone()
        });
    }
    for (instance, games) in lost_by_instance {
        (shared.events)(ClusterEvent::GamesLost { instance, games });
    }
}

/// Packs encoded frames into as few messages as fit [`MAX_BUS_MESSAGE_BYTES`], each a
/// [`BusBatch`] of this instance; no frames at all give one message with none, which says the
/// instance is alive.
fn pack(instance: Uuid, frames: Vec<String>) -> Vec<String> {
    let header = format!(r#"{{"i":"{instance}","f":["#);
    const FOOTER: &str = "]}";
    let mut messages = Vec::new();
    let mut message = header.clone();
    let mut holds_frames = false;
    for frame in frames {
        let separator = usize::from(holds_frames);
        if holds_frames
            && message.len() + separator + frame.len() + FOOTER.len() > MAX_BUS_MESSAGE_BYTES
        {
            message.push_str(FOOTER);
            messages.push(std::mem::replace(&mut message, header.clone()));
            holds_frames = false;
        }
        if holds_frames {
            message.push(',');
        }
        message.push_str(&frame);
        holds_frames = true;
    }
    if holds_frames || messages.is_empty() {
        message.push_str(FOOTER);
        messages.push(message);
    }
    messages
}

/// One message on the bus: frames of one instance's games, in the order they were published.
#[derive(Debug, Serialize, Deserialize)]
struct BusBatch {
    #[serde(rename = "i")]
    instance: Uuid,
    #[serde(rename = "f")]
    frames: Vec<BusFrame>,
}

/// A frame as it travels between instances: every field of [`Frame`], compactly (a 400-cell
/// snake takes about 3 KB), so the instance that receives it holds the very frame the instance
/// that ran the game published, and encodes it to the same bytes.
#[derive(Debug, Serialize, Deserialize)]
struct BusFrame {
    #[serde(rename = "g")]
    game_id: Uuid,
    #[serde(rename = "s")]
    sequence: u64,
    #[serde(rename = "u")]
    username: String,
    #[serde(rename = "m")]
    mode: GameMode,
    /// The tick of the game, in milliseconds.
    #[serde(rename = "t")]
    tick_ms: u32,
    /// The snake's cells, head first, as x, y, x, y, ….
    #[serde(rename = "k")]
    snake: Vec<u16>,
    #[serde(rename = "o")]
    food: Option<(u16, u16)>,
    #[serde(rename = "p")]
    score: u32,
    #[serde(rename = "d")]
    direction: u8,
    #[serde(rename = "n")]
    ticks: u64,
    /// The engine's end cause, as [`end_cause_code`] numbers it.
    #[serde(rename = "c")]
    cause: Option<u8>,
    /// `ticked_at` in nanoseconds since the Unix epoch.
    #[serde(rename = "a")]
    ticked_at_ns: i64,
    #[serde(rename = "e")]
    end: Option<BusEnd>,
}

/// How a game ended, on its final frame.
#[derive(Debug, Serialize, Deserialize)]
struct BusEnd {
    /// The reason, as [`end_reason_code`] numbers it.
    #[serde(rename = "r")]
    reason: u8,
    /// The verified entry recorded, if any.
    #[serde(rename = "v")]
    entry: Option<BusEntry>,
    /// Whether recording the game failed (the detail stays in the log of its instance).
    #[serde(rename = "x", default)]
    failed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct BusEntry {
    id: Uuid,
    #[serde(rename = "p")]
    player_id: Uuid,
    #[serde(rename = "s")]
    score: u32,
    #[serde(rename = "a")]
    recorded_at_ns: i64,
}

fn nanoseconds(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn direction_code(direction: Direction) -> u8 {
    match direction {
        Direction::Up => 0,
        Direction::Down => 1,
        Direction::Left => 2,
        Direction::Right => 3,
    }
}

fn end_cause_code(cause: EndCause) -> u8 {
    match cause {
        EndCause::HitWall => 0,
        EndCause::HitSelf => 1,
        EndCause::BoardFull => 2,
    }
}

const END_CAUSES: [EndCause; 3] = [EndCause::HitWall, EndCause::HitSelf, EndCause::BoardFull];

fn end_reason_code(reason: GameEndReason) -> u8 {
    match reason {
        GameEndReason::Rules(cause) => end_cause_code(cause),
        GameEndReason::ReplacedByNewGame => 3,
        GameEndReason::ServerShutdown => 4,
        GameEndReason::InstanceLost => 5,
    }
}

fn end_reason_of(code: u8) -> Option<GameEndReason> {
    match code {
        0..=2 => Some(GameEndReason::Rules(END_CAUSES[usize::from(code)])),
        3 => Some(GameEndReason::ReplacedByNewGame),
        4 => Some(GameEndReason::ServerShutdown),
        5 => Some(GameEndReason::InstanceLost),
        _ => None,
    }
}

/// A frame as the bus carries it, as JSON.
fn encode_for_bus(frame: &Frame, tick: Duration) -> String {
    let end = frame.end.as_ref().map(|end| BusEnd {
        reason: end_reason_code(end.reason),
        entry: match &end.recording {
            Recording::Verified(entry) => Some(BusEntry {
                id: entry.id,
                player_id: entry.player_id,
                score: entry.score,
                recorded_at_ns: nanoseconds(entry.recorded_at),
            }),
            _ => None,
        },
        failed: matches!(end.recording, Recording::Failed(_)),
    });
    let bus_frame = BusFrame {
        game_id: frame.game_id,
        sequence: frame.sequence,
        username: frame.username.to_string(),
        mode: frame.mode,
        tick_ms: u32::try_from(tick.as_millis()).unwrap_or(u32::MAX),
        snake: frame
            .view
            .snake
            .iter()
            .flat_map(|cell| [cell.x, cell.y])
            .collect(),
        food: frame.view.food.map(|cell| (cell.x, cell.y)),
        score: frame.view.score,
        direction: direction_code(frame.view.direction),
        ticks: frame.view.ticks,
        cause: frame.view.end.map(end_cause_code),
        ticked_at_ns: nanoseconds(frame.ticked_at),
        end,
    };
    // Plain fields into a string cannot fail.
    serde_json::to_string(&bus_frame).unwrap_or_default()
}

impl BusFrame {
    /// The frame it carries, or what is wrong with it.
    fn into_frame(self) -> std::result::Result<Frame, String> {
        let direction = *Direction::ALL
            .get(usize::from(self.direction))
            .ok_or_else(|| format!("unknown direction {}", self.direction))?;
        let cause = self
            .cause
            .map(|code| {
                END_CAUSES
                    .get(usize::from(code))
                    .copied()
                    .ok_or_else(|| format!("unknown end cause {code}"))
            })
            .transpose()?;
        if !self.snake.len().is_multiple_of(2) {
            return Err("a snake with an odd number of coordinates".to_owned());
        }
        let username: Arc<str> = self.username.into();
        let end = self
            .end
            .map(|end| {
                let reason = end_reason_of(end.reason)
                    .ok_or_else(|| format!("unknown end reason {}", end.reason))?;
                let recording = match (end.entry, end.failed) {
                    (Some(entry), _) => Recording::Verified(ScoreEntry {
                        id: entry.id,
                        player_id: entry.player_id,
                        username: Arc::clone(&username),
                        score: entry.score,
                        mode: self.mode,
                        recorded_at: DateTime::from_timestamp_nanos(entry.recorded_at_ns),
                        verified: true,
                        game_id: Some(self.game_id),
                    }),
                    (None, true) => Recording::Failed(Error::Internal(
                        "recording the game failed on the instance that ran it".to_owned(),
                    )),
                    (None, false) => Recording::NotOnLeaderboard,
                };
                Ok::<_, String>(FrameEnd { reason, recording })
            })
            .transpose()?;
        Ok(Frame {
            sequence: self.sequence,
            game_id: self.game_id,
            username,
            mode: self.mode,
            view: GameView {
                mode: self.mode,
                snake: self
                    .snake
                    .chunks_exact(2)
                    .map(|pair| Cell {
                        x: pair[0],
                        y: pair[1],
                    })
                    .collect(),
                food: self.food.map(|(x, y)| Cell { x, y }),
                score: self.score,
                direction,
                ticks: self.ticks,
                end: cause,
            },
            ticked_at: DateTime::from_timestamp_nanos(self.ticked_at_ns),
            end,
        })
    }
}

#[cfg(test)]
mod tests;
