//! Frames: what a live game publishes after every tick, encoded once and shared by every
//! subscriber, and the subscription that hands them to one player or spectator in order.
//!
//! Each game keeps a `watch` of its latest frame and a bounded `broadcast` of every frame. A new
//! subscriber joins the broadcast first and then reads the latest frame, so it starts with the
//! current frame and misses none after it; frames it already has are skipped by sequence
//! number. A subscriber that falls more than the broadcast's capacity behind (the broadcast
//! reports `Lagged`) is resynchronised: it jumps to the latest frame and carries on from there,
//! so it never sees a frame twice or out of order, only a gap in the sequence numbers, which it
//! can see. Ending such a subscriber instead would punish a spectator on a slow link for a
//! hiccup; buffering without bound would let one slow reader hold memory for everyone.
//!
//! The domain does not know how a frame goes on the wire: the edge supplies a [`FrameEncoder`],
//! called once per frame, and every subscriber gets the same [`bytes::Bytes`].
//!
//! Domain code: it uses `model`, `error` and the engine, and never the HTTP edge or wire types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::error::Error;
use crate::games::engine::GameView;
use crate::model::{GameEndReason, GameMode, ScoreEntry};

/// One picture of a live game: the state after a tick (or at its start), and, on the last
/// frame, how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 0 for the frame at the start, then one more for every frame after it.
    pub sequence: u64,
    pub game_id: Uuid,
    pub username: Arc<str>,
    pub mode: GameMode,
    pub view: GameView,
    /// When the game's task published this frame (for the first frame, when the game started),
    /// to the microsecond: a client on the same clock can tell how long the frame took to reach
    /// it.
    pub ticked_at: DateTime<Utc>,
    /// Set on the final frame only.
    pub end: Option<FrameEnd>,
}

impl Frame {
    /// The time to put in a frame about to be published: now, to the microsecond, which is as
    /// precise as the contract's `tickedAt` says and as a client can use.
    pub fn tick_time_now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    /// Whether this is the game's last frame.
    pub fn is_final(&self) -> bool {
        self.end.is_some()
    }
}

/// How a game ended, on its final frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameEnd {
    pub reason: GameEndReason,
    pub recording: Recording,
}

/// What became of a finished game's score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// The server recorded the game and this verified leaderboard entry with it.
    Verified(ScoreEntry),
    /// A demo bot's game: it never goes on the leaderboard.
    NotOnLeaderboard,
    /// The store refused the record; the error is for the operator's log, its `Display` is fit
    /// for the player.
    Failed(Error),
}

/// Turns a frame into the bytes sent to players and spectators; supplied by the edge, which
/// knows the wire format, and called once per frame.
pub type FrameEncoder = Arc<dyn Fn(&Frame) -> Bytes + Send + Sync>;

/// A frame as subscribers receive it: the frame itself and its encoding, both shared, so handing
/// it to a subscriber copies two pointers.
#[derive(Debug, Clone)]
pub struct SharedFrame {
    pub frame: Arc<Frame>,
    pub encoded: Bytes,
}

impl SharedFrame {
    pub fn sequence(&self) -> u64 {
        self.frame.sequence
    }

    pub fn is_final(&self) -> bool {
        self.frame.is_final()
    }
}

/// The two channels of one game's frames; the game's task publishes, subscribers read.
pub(crate) struct FrameChannel {
    latest: watch::Sender<SharedFrame>,
    every_frame: broadcast::Sender<SharedFrame>,
    encoder: FrameEncoder,
    spectators: Arc<AtomicUsize>,
}

impl FrameChannel {
    /// A channel whose latest frame is `first`, keeping up to `capacity` frames for subscribers
    /// that are behind.
    pub(crate) fn new(first: Frame, capacity: usize, encoder: FrameEncoder) -> FrameChannel {
        let first = encode(&encoder, first);
        let (every_frame, _) = broadcast::channel(capacity.max(1));
        FrameChannel {
            latest: watch::Sender::new(first),
            every_frame,
            encoder,
            spectators: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Encodes a frame once and hands it to every subscriber. The latest frame is replaced
    /// before the broadcast, so a subscriber joining in between sees it in one of the two.
    pub(crate) fn publish(&self, frame: Frame) {
        self.publish_shared(Arc::new(frame));
    }

    /// [`FrameChannel::publish`] for a frame that is shared already (with other instances).
    pub(crate) fn publish_shared(&self, frame: Arc<Frame>) {
        let encoded = (self.encoder)(&frame);
        let shared = SharedFrame { frame, encoded };
        self.latest.send_replace(shared.clone());
        // No receivers is no error: nobody is watching right now.
        let _ = self.every_frame.send(shared);
    }

    pub(crate) fn latest(&self) -> SharedFrame {
        self.latest.borrow().clone()
    }

    /// Waits until the final frame has been published, and returns it.
    pub(crate) async fn final_frame(&self) -> SharedFrame {
        let mut latest = self.latest.subscribe();
        match latest.wait_for(SharedFrame::is_final).await {
            Ok(frame) => frame.clone(),
            // The sender lives as long as `self`, so this cannot happen; the latest frame is the
            // best answer if it ever did.
            Err(_) => self.latest(),
        }
    }

    /// A subscription that is not counted against the spectator cap (the player's own).
    pub(crate) fn subscribe(&self) -> Subscription {
        let receiver = self.every_frame.subscribe();
        let current = self.latest();
        Subscription {
            receiver,
            latest: self.latest.subscribe(),
            pending: Some(current),
            last_sequence: None,
            finished: false,
            resynchronisations: 0,
            spectator_slot: None,
        }
    }

    /// A spectator's subscription, refused with `TooManySpectators` when `max` spectators
    /// already watch.
    pub(crate) fn subscribe_as_spectator(&self, max: usize) -> Result<Subscription, Error> {
        let slot = SpectatorSlot::take(&self.spectators, max)?;
        let mut subscription = self.subscribe();
        subscription.spectator_slot = Some(slot);
        Ok(subscription)
    }

    pub(crate) fn spectator_count(&self) -> usize {
        self.spectators.load(Ordering::Acquire)
    }
}

fn encode(encoder: &FrameEncoder, frame: Frame) -> SharedFrame {
    let encoded = encoder(&frame);
    SharedFrame {
        frame: Arc::new(frame),
        encoded,
    }
}

/// One of a game's spectator places, given back when it is dropped (with the subscription that
/// holds it, or on its own once taken from it).
#[derive(Debug)]
pub struct SpectatorSlot(Arc<AtomicUsize>);

impl SpectatorSlot {
    fn take(spectators: &Arc<AtomicUsize>, max: usize) -> Result<SpectatorSlot, Error> {
        spectators
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < max).then_some(count + 1)
            })
            .map_err(|_| Error::TooManySpectators)?;
        Ok(SpectatorSlot(Arc::clone(spectators)))
    }
}

impl Drop for SpectatorSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One reader of a game's frames: the current frame first, then every later frame in order,
/// then the final frame, then `None`.
pub struct Subscription {
    receiver: broadcast::Receiver<SharedFrame>,
    latest: watch::Receiver<SharedFrame>,
    pending: Option<SharedFrame>,
    last_sequence: Option<u64>,
    finished: bool,
    resynchronisations: u64,
    spectator_slot: Option<SpectatorSlot>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Subscription")
            .field("last_sequence", &self.last_sequence)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next frame, or `None` once the final frame has been handed out.
    pub async fn next(&mut self) -> Option<SharedFrame> {
        if self.finished {
            return None;
        }
        if let Some(current) = self.pending.take() {
            return Some(self.deliver(current));
        }
        loop {
            match self.receiver.recv().await {
                Ok(frame) if Some(frame.sequence()) <= self.last_sequence => continue,
                Ok(frame) => return Some(self.deliver(frame)),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let latest = self.latest.borrow().clone();
                    if Some(latest.sequence()) > self.last_sequence {
                        self.resynchronisations += 1;
                        return Some(self.deliver(latest));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// The spectator place this subscription holds, if it is a spectator's, to be held apart
    /// from it: a spectator whose frames reach it another way (shared with the other spectators
    /// of the game) keeps its place for as long as it watches.
    pub fn take_spectator_slot(&mut self) -> Option<SpectatorSlot> {
        self.spectator_slot.take()
    }

    /// How often this subscriber fell too far behind and jumped to the latest frame.
    pub fn resynchronisations(&self) -> u64 {
        self.resynchronisations
    }

    fn deliver(&mut self, frame: SharedFrame) -> SharedFrame {
        self.last_sequence = Some(frame.sequence());
        self.finished = frame.is_final();
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::engine::Game;

    fn frame(sequence: u64, end: Option<FrameEnd>) -> Frame {
        Frame {
            sequence,
            game_id: Uuid::nil(),
            username: "tester".into(),
            mode: GameMode::Walls,
            view: Game::new(GameMode::Walls, 1).view(),
            ticked_at: DateTime::UNIX_EPOCH,
            end,
        }
    }

    fn counting_encoder(count: Arc<AtomicUsize>) -> FrameEncoder {
        Arc::new(move |frame: &Frame| {
            count.fetch_add(1, Ordering::SeqCst);
            Bytes::from(frame.sequence.to_string())
        })
    }

    const FINAL: Option<FrameEnd> = Some(FrameEnd {
        reason: GameEndReason::ServerShutdown,
        recording: Recording::NotOnLeaderboard,
    });

    #[tokio::test]
    async fn every_frame_is_encoded_once_whatever_the_number_of_subscribers() {
        let encodings = Arc::new(AtomicUsize::new(0));
        let channel = FrameChannel::new(frame(0, None), 8, counting_encoder(encodings.clone()));
        let mut subscribers: Vec<_> = (0..5).map(|_| channel.subscribe()).collect();
        channel.publish(frame(1, None));
        for subscriber in &mut subscribers {
            assert_eq!(subscriber.next().await.map(|f| f.sequence()), Some(0));
            let shared = subscriber.next().await.expect("frame 1");
            assert_eq!(shared.encoded, Bytes::from("1"));
        }
        assert_eq!(encodings.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_jumps_to_the_latest_frame_and_never_sees_one_twice() {
        let channel = FrameChannel::new(
            frame(0, None),
            2,
            counting_encoder(Arc::new(AtomicUsize::new(0))),
        );
        let mut slow = channel.subscribe();
        assert_eq!(slow.next().await.map(|f| f.sequence()), Some(0));
        for sequence in 1..=6 {
            channel.publish(frame(sequence, None));
        }
        channel.publish(frame(7, FINAL));
        let mut seen = Vec::new();
        while let Some(shared) = slow.next().await {
            seen.push(shared.sequence());
        }
        assert_eq!(seen, vec![7], "it jumps to the latest, which is final");
        assert_eq!(slow.resynchronisations(), 1);
    }

    #[tokio::test]
    async fn a_subscription_ends_after_the_final_frame_even_for_a_late_subscriber() {
        let channel = FrameChannel::new(
            frame(0, None),
            8,
            counting_encoder(Arc::new(AtomicUsize::new(0))),
        );
        channel.publish(frame(1, FINAL));
        let mut late = channel.subscribe();
        let first = late.next().await.expect("the current frame");
        assert!(first.is_final());
        assert_eq!(first.sequence(), 1);
        assert!(late.next().await.is_none());
    }

    #[tokio::test]
    async fn spectators_beyond_the_cap_are_refused_and_a_dropped_one_frees_its_place() {
        let channel = FrameChannel::new(
            frame(0, None),
            8,
            counting_encoder(Arc::new(AtomicUsize::new(0))),
        );
        let first = channel.subscribe_as_spectator(2).expect("first");
        let _second = channel.subscribe_as_spectator(2).expect("second");
        assert_eq!(
            channel.subscribe_as_spectator(2).map(|_| ()),
            Err(Error::TooManySpectators)
        );
        let _player = channel.subscribe();
        drop(first);
        assert_eq!(channel.spectator_count(), 1);
        assert!(channel.subscribe_as_spectator(2).is_ok());
    }
}
