//! The encoding of live-game frames for the play and watch channels: JSON, one object per frame,
//! produced once per tick by the [`FrameEncoder`] the edge hands to the live-games runtime.
//!
//! TODO-cleanup: the contract's frame schema arrives with the channels (another slice); until
//! then this is a hand-written JSON shape, to be replaced by the generated wire type.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::games::engine::{Direction, EndCause};
use crate::games::frames::{Frame, FrameEncoder, Recording};
use crate::model::{Cell, GameEndReason};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireFrame<'a> {
    sequence: u64,
    game_id: Uuid,
    username: &'a str,
    mode: &'static str,
    score: u32,
    snake: &'a [Cell],
    food: Option<Cell>,
    direction: &'static str,
    ticks: u64,
    ended: bool,
    end_reason: Option<&'static str>,
    entry: Option<WireEntry>,
}

#[derive(Serialize)]
struct WireEntry {
    id: Uuid,
    score: u32,
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Left => "left",
        Direction::Right => "right",
    }
}

fn end_reason_name(reason: GameEndReason) -> &'static str {
    match reason {
        GameEndReason::Rules(EndCause::HitWall) => "hit_wall",
        GameEndReason::Rules(EndCause::HitSelf) => "hit_self",
        GameEndReason::Rules(EndCause::BoardFull) => "board_full",
        GameEndReason::ReplacedByNewGame => "replaced_by_new_game",
        GameEndReason::ServerShutdown => "server_shutting_down",
    }
}

/// The frame as JSON bytes.
pub fn encode_frame_as_json(frame: &Frame) -> bytes::Bytes {
    let end = frame.end.as_ref();
    let wire = WireFrame {
        sequence: frame.sequence,
        game_id: frame.game_id,
        username: &frame.username,
        mode: frame.mode.as_str(),
        score: frame.view.score,
        snake: &frame.view.snake,
        food: frame.view.food,
        direction: direction_name(frame.view.direction),
        ticks: frame.view.ticks,
        ended: end.is_some(),
        end_reason: end.map(|end| end_reason_name(end.reason)),
        entry: end.and_then(|end| match &end.recording {
            Recording::Verified(entry) => Some(WireEntry {
                id: entry.id,
                score: entry.score,
            }),
            Recording::NotOnLeaderboard | Recording::Failed(_) => None,
        }),
    };
    // Serialising plain fields into a Vec cannot fail.
    serde_json::to_vec(&wire)
        .map(bytes::Bytes::from)
        .unwrap_or_default()
}

/// The encoder the server gives the live-games runtime.
pub fn json_frame_encoder() -> FrameEncoder {
    Arc::new(encode_frame_as_json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::engine::Game;
    use crate::model::GameMode;

    #[test]
    fn a_frame_is_one_json_object_with_its_sequence_snake_and_end() {
        let frame = Frame {
            sequence: 7,
            game_id: Uuid::nil(),
            username: "bot-1".into(),
            mode: GameMode::Walls,
            view: Game::new(GameMode::Walls, 1).view(),
            end: Some(crate::games::frames::FrameEnd {
                reason: GameEndReason::ServerShutdown,
                recording: Recording::NotOnLeaderboard,
            }),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&encode_frame_as_json(&frame)).expect("JSON");
        assert_eq!(json["sequence"], 7);
        assert_eq!(json["snake"][0], serde_json::json!({"x": 10, "y": 10}));
        assert_eq!(json["ended"], true);
        assert_eq!(json["endReason"], "server_shutting_down");
        assert_eq!(json["entry"], serde_json::Value::Null);
    }
}
