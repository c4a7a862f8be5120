//! The spectators of each watched game on this instance, and the tasks (one per game, or one per
//! [`MAX_SPECTATORS_PER_WRITER`] of a crowded game's spectators) that write every frame, framed
//! for WebSocket once, straight to each spectator's socket.
//!
//! A task per spectator, woken for every frame, cost more than the frame's `send` itself: the
//! wake-ups, the threads parking and unparking between them, and each connection's other select
//! branches. A writer pays a `send` per spectator and little else; what a socket does not take
//! at once waits in its connection's queue, which that connection's own task writes out. A crowd
//! is split between several writers so that the runtime's threads share its sends.
//! A spectator whose client falls behind by more than [`MAX_WAITING_BYTES_PER_SPECTATOR`] misses
//! frames until it has caught up, and sees the gap in the sequence numbers, as a subscription
//! that falls behind does; the final frame always reaches it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::api::support::{Delivery, FrameWriter, PreparedMessage};
use crate::games::frames::Subscription;

/// Bytes that may wait for one spectator's client before its frames are skipped: about fifty
/// frames of a long snake, several seconds of play.
pub const MAX_WAITING_BYTES_PER_SPECTATOR: usize = 64 * 1024;

/// The most spectators one writer writes to; a game with more has several writers.
pub const MAX_SPECTATORS_PER_WRITER: usize = 200;

/// The games watched on this instance, each with its writers. Shared by every watch channel.
#[derive(Clone, Default)]
pub struct WatchedGames {
    writers: Arc<Mutex<HashMap<Uuid, Vec<WriterEntry>>>>,
}

/// A running writer as the map knows it: where it takes new spectators from, and how many it has.
struct WriterEntry {
    joins: mpsc::UnboundedSender<Spectator>,
    spectators: Arc<AtomicUsize>,
}

/// One spectator as a game's writer knows it.
struct Spectator {
    writer: FrameWriter,
    game_over: oneshot::Sender<()>,
}

/// A spectator's side of its game's writer: it resolves once the game's final frame has been
/// handed to the spectator's connection.
pub struct Watching {
    game_over: oneshot::Receiver<()>,
}

impl Watching {
    /// Waits for the end of the game: `Ok` once the final frame has been handed over, an error
    /// if the writer stopped without one (a server fault).
    pub async fn game_over(&mut self) -> Result<(), oneshot::error::RecvError> {
        (&mut self.game_over).await
    }
}

impl WatchedGames {
    /// Adds a spectator, whose frames go to `writer`, to the game's writer, starting one with
    /// `frames` if the game has none; `frames` is dropped otherwise. The spectator gets the
    /// writer's latest frame at once and every frame after it.
    pub fn watch(&self, game_id: Uuid, frames: Subscription, writer: FrameWriter) -> Watching {
        let (game_over, game_over_received) = oneshot::channel();
        let mut spectator = Spectator { writer, game_over };
        let mut writers = self.lock();
        let entries = writers.entry(game_id).or_default();
        // A writer that is gone without leaving the map (it panicked) is replaced.
        entries.retain(|entry| !entry.joins.is_closed());
        if let Some(entry) = entries
            .iter()
            .find(|entry| entry.spectators.load(Ordering::Relaxed) < MAX_SPECTATORS_PER_WRITER)
        {
            match entry.joins.send(spectator) {
                Ok(()) => {
                    entry.spectators.fetch_add(1, Ordering::Relaxed);
                    return Watching {
                        game_over: game_over_received,
                    };
                }
                Err(mpsc::error::SendError(back)) => spectator = back,
            }
        }
        let (joins, joined) = mpsc::unbounded_channel();
        // Cannot fail: `joined` is alive.
        let _ = joins.send(spectator);
        let spectators = Arc::new(AtomicUsize::new(1));
        entries.push(WriterEntry {
            joins: joins.clone(),
            spectators: Arc::clone(&spectators),
        });
        drop(writers);
        let writer = Writer {
            games: self.clone(),
            game_id,
            joins,
            spectator_count: spectators,
        };
        tokio::spawn(writer.write_frames(frames, joined));
        Watching {
            game_over: game_over_received,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<WriterEntry>>> {
        // Every change under the lock is a single map or list operation, so a poisoned map is
        // whole.
        self.writers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One writer of one game, as it knows itself.
struct Writer {
    games: WatchedGames,
    game_id: Uuid,
    /// Its own entry's sender, by which it finds its entry in the map.
    joins: mpsc::UnboundedSender<Spectator>,
    spectator_count: Arc<AtomicUsize>,
}

impl Writer {
    /// One game's writer: every frame of `frames` to every spectator, new spectators from
    /// `joined` (each given the latest frame first). It ends after the final frame, or as soon
    /// as nobody watches.
    async fn write_frames(
        self,
        mut frames: Subscription,
        mut joined: mpsc::UnboundedReceiver<Spectator>,
    ) {
        let mut spectators: Vec<Spectator> = Vec::new();
        let mut latest: Option<PreparedMessage> = None;
        loop {
            tokio::select! {
                biased;
                frame = frames.next() => {
                    let Some(frame) = frame else {
                        // The game's frames ended without a final one: its spectators are
                        // told the game is over all the same.
                        self.end_game(&mut joined, spectators, None);
                        return;
                    };
                    let Ok(message) = PreparedMessage::text(&frame.encoded) else {
                        // Frames are JSON from the frame encoder, so this cannot happen;
                        // dropping the spectators' `game_over` tells each channel the frames
                        // failed, which it logs and tells its client.
                        self.stop(&mut joined, spectators, None);
                        return;
                    };
                    let is_final = frame.is_final();
                    let before = spectators.len();
                    spectators.retain(|spectator| {
                        spectator.writer.write(&message, MAX_WAITING_BYTES_PER_SPECTATOR, is_final)
                            != Delivery::Gone
                    });
                    self.spectator_count.fetch_sub(before - spectators.len(), Ordering::Relaxed);
                    if is_final {
                        self.end_game(&mut joined, spectators, Some(&message));
                        return;
                    }
                    latest = Some(message);
                    if spectators.is_empty() {
                        match self.leave_if_unwatched(&mut joined) {
                            Some(spectator) => spectators.push(welcome(spectator, latest.as_ref())),
                            None => return,
                        }
                    }
                }
                Some(spectator) = joined.recv() => {
                    spectators.push(welcome(spectator, latest.as_ref()));
                }
            }
        }
    }

    /// Stops this writer and tells every spectator, those who joined meanwhile included, that
    /// the game is over, after handing them `last` (the final frame), if given.
    fn end_game(
        &self,
        joined: &mut mpsc::UnboundedReceiver<Spectator>,
        spectators: Vec<Spectator>,
        last: Option<&PreparedMessage>,
    ) {
        for spectator in self.stop(joined, spectators, last) {
            let _ = spectator.game_over.send(());
        }
    }

    /// Takes this writer out of the map, so no spectator joins it any more, and returns its
    /// spectators with those who joined meanwhile, these handed `last` (the final frame), if
    /// given.
    fn stop(
        &self,
        joined: &mut mpsc::UnboundedReceiver<Spectator>,
        mut spectators: Vec<Spectator>,
        last: Option<&PreparedMessage>,
    ) -> Vec<Spectator> {
        let mut writers = self.games.lock();
        self.remove_own_entry(&mut writers);
        // Spectators join only under the lock, so after it none can: these are the last.
        while let Ok(spectator) = joined.try_recv() {
            if let Some(last) = last {
                spectator
                    .writer
                    .write(last, MAX_WAITING_BYTES_PER_SPECTATOR, true);
            }
            spectators.push(spectator);
        }
        spectators
    }

    /// Ends the writer of a game nobody watches any more, unless a spectator has just joined,
    /// who is returned.
    fn leave_if_unwatched(
        &self,
        joined: &mut mpsc::UnboundedReceiver<Spectator>,
    ) -> Option<Spectator> {
        let mut writers = self.games.lock();
        match joined.try_recv() {
            Ok(spectator) => Some(spectator),
            Err(_) => {
                self.remove_own_entry(&mut writers);
                None
            }
        }
    }

    /// Removes this writer's entry, and the game's once it has no writer left.
    fn remove_own_entry(&self, writers: &mut HashMap<Uuid, Vec<WriterEntry>>) {
        if let Some(entries) = writers.get_mut(&self.game_id) {
            entries.retain(|entry| !entry.joins.same_channel(&self.joins));
            if entries.is_empty() {
                writers.remove(&self.game_id);
            }
        }
    }
}

/// A new spectator, handed the writer's latest frame (if it has had one yet) before any other.
fn welcome(spectator: Spectator, latest: Option<&PreparedMessage>) -> Spectator {
    if let Some(latest) = latest {
        spectator
            .writer
            .write(latest, MAX_WAITING_BYTES_PER_SPECTATOR, false);
    }
    spectator
}
