//! The encoding of live-game frames for the play and watch channels: the contract's
//! `ServerMessage` carrying a `GameFrame`, as JSON, produced once per tick by the [`FrameEncoder`]
//! the edge hands to the live-games runtime, so every connection sends the same bytes.

use std::sync::Arc;

use crate::api::types;
use crate::games::frames::{Frame, FrameEncoder};
use crate::http::wire;

/// The frame as the JSON text of a `ServerMessage` of type `frame`.
///
/// A frame that breaks the contract (a server fault: the engine keeps the snake on a 20 × 20
/// board) is sent as an `error` message instead, so a client never reads a malformed frame.
pub fn encode_frame_as_json(frame: &Frame) -> bytes::Bytes {
    let message = match wire::frame_to_wire(frame) {
        Ok(frame) => types::ServerMessage {
            r#type: types::ServerMessageType::Frame,
            frame: Some(frame),
            error: None,
        },
        Err(error) => error_message("internal", &error.to_string()),
    };
    // Serialising generated types with plain fields into a Vec cannot fail.
    serde_json::to_vec(&message)
        .map(bytes::Bytes::from)
        .unwrap_or_default()
}

/// A `ServerMessage` of type `error`, with the contract's `{code, detail}`.
pub fn error_message(code: &str, detail: &str) -> types::ServerMessage {
    let error = types::Error {
        code: types::ErrorCode::try_from(code.to_owned())
            .unwrap_or_else(|_| types::ErrorCode::try_from("internal".to_owned()).unwrap()),
        detail: types::ErrorDetail::try_from(detail.chars().take(2048).collect::<String>())
            .unwrap_or_else(|_| types::ErrorDetail::try_from(String::new()).unwrap()),
    };
    types::ServerMessage {
        r#type: types::ServerMessageType::Error,
        frame: None,
        error: Some(error),
    }
}

/// The encoder the server gives the live-games runtime.
pub fn json_frame_encoder() -> FrameEncoder {
    Arc::new(encode_frame_as_json)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::games::engine::Game;
    use crate::games::frames::{FrameEnd, Recording};
    use crate::model::{GameEndReason, GameMode};

    #[test]
    fn a_frame_is_a_server_message_of_the_contract_with_its_sequence_snake_and_end() {
        let frame = Frame {
            sequence: 7,
            game_id: Uuid::nil(),
            username: "bot-1".into(),
            mode: GameMode::Walls,
            view: Game::new(GameMode::Walls, 1).view(),
            ticked_at: chrono::DateTime::UNIX_EPOCH + chrono::Duration::microseconds(1_234_567),
            end: Some(FrameEnd {
                reason: GameEndReason::ServerShutdown,
                recording: Recording::NotOnLeaderboard,
            }),
        };
        let encoded = encode_frame_as_json(&frame);
        let message: types::ServerMessage =
            serde_json::from_slice(&encoded).expect("a ServerMessage");
        assert_eq!(message.r#type, types::ServerMessageType::Frame);
        let json: serde_json::Value = serde_json::from_slice(&encoded).unwrap();
        let frame = &json["frame"];
        assert_eq!(frame["sequence"], 7);
        assert_eq!(frame["snake"][0], serde_json::json!({"x": 10, "y": 10}));
        assert_eq!(frame["tickedAt"], "1970-01-01T00:00:01.234567Z");
        assert_eq!(frame["over"], true);
        assert_eq!(frame["endReason"], "server_shutting_down");
        assert!(frame.get("entry").is_none(), "{frame}");
    }

    #[test]
    fn an_error_message_carries_the_contract_s_code_and_detail() {
        let message = error_message("invalid_message", "not a turn");
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "error", "error": {"code": "invalid_message", "detail": "not a turn"}})
        );
    }
}
