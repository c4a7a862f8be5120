//! A small client that plays one game on a running server, as a frontend would: it signs up a new
//! player, starts a game (`POST /api/games`), opens the play channel with the ticket, heads for
//! the food, prints the frames where something happened, and at game over prints the verified
//! entry the server recorded. Run the server (`cargo run`), then:
//!
//! ```sh
//! cargo run --example play_a_game -- [http://127.0.0.1:8000] [walls|pass-through]
//! ```

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The board's size, as `POST /api/games` reports it too.
const BOARD: i64 = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let base = arguments
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let mode = arguments.next().unwrap_or_else(|| "walls".to_owned());
    let http = reqwest::Client::new();

    let suffix = std::process::id();
    let signup: Value = http
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({
            "email": format!("example{suffix}@example.com"),
            "username": format!("example{suffix}"),
            "password": "a walk along the wall",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = signup["token"].as_str().ok_or("no token")?.to_owned();
    println!("signed up as {}", signup["user"]["username"]);

    let started: Value = http
        .post(format!("{base}/api/games"))
        .bearer_auth(&token)
        .json(&json!({ "mode": mode }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let game_id = started["gameId"].as_str().ok_or("no game id")?;
    let ticket = started["ticket"].as_str().ok_or("no ticket")?;
    println!(
        "started {mode} game {game_id}: {}x{} board, a tick every {} ms",
        started["width"], started["height"], started["tickMs"]
    );

    // The play channel: a GET with the WebSocket upgrade headers, then WebSocket frames.
    let response = http
        .get(format!(
            "{base}/api/games/live/{game_id}/play?ticket={ticket}"
        ))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "c25ha2UtYXJlbmEtZXhhbXBsZQ==")
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!("the play channel was refused: {}", response.text().await?).into());
    }
    let mut socket =
        WebSocketStream::from_raw_socket(response.upgrade().await?, Role::Client, None).await;

    let mut last_turn_at_tick = -1;
    let mut last_score = Value::Null;
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let message: Value = serde_json::from_str(text.as_str())?;
        if message["type"] == "error" {
            println!("the server refused: {}", message["error"]);
            break;
        }
        let frame = &message["frame"];
        let head = &frame["snake"][0];
        if frame["sequence"] == 0 || frame["score"] != last_score || frame["over"] == true {
            println!(
                "#{:<4} head ({:>2},{:>2}) heading {:<7} score {}",
                frame["sequence"], head["x"], head["y"], frame["direction"], frame["score"]
            );
            last_score = frame["score"].clone();
        }
        if frame["over"] == true {
            println!("game over: {}", frame["endReason"]);
            if frame["entry"].is_object() {
                println!("recorded on the leaderboard: {}", frame["entry"]);
            }
            break;
        }
        let ticks = frame["ticks"].as_i64().unwrap_or(0);
        if ticks != last_turn_at_tick
            && let Some(direction) = towards_the_food(frame)
        {
            let turn = json!({ "type": "turn", "direction": direction }).to_string();
            socket.send(Message::text(turn)).await?;
            last_turn_at_tick = ticks;
        }
    }
    Ok(())
}

/// The direction towards the food that neither reverses, leaves the board nor runs into the
/// snake, if there is one and it is not the current direction; a greedy player that scores a few
/// points and sooner or later traps itself.
fn towards_the_food(frame: &Value) -> Option<&'static str> {
    let cells: Vec<(i64, i64)> = frame["snake"]
        .as_array()?
        .iter()
        .filter_map(|cell| Some((cell["x"].as_i64()?, cell["y"].as_i64()?)))
        .collect();
    let (x, y) = *cells.first()?;
    let food = &frame["food"];
    let (food_x, food_y) = (
        food["x"].as_i64().unwrap_or(x),
        food["y"].as_i64().unwrap_or(y),
    );
    let current = frame["direction"].as_str()?;
    let reverse = match current {
        "up" => "down",
        "down" => "up",
        "left" => "right",
        _ => "left",
    };
    let mut options = [
        ("up", (x, y - 1)),
        ("down", (x, y + 1)),
        ("left", (x - 1, y)),
        ("right", (x + 1, y)),
    ];
    options.sort_by_key(|(_, (next_x, next_y))| (next_x - food_x).abs() + (next_y - food_y).abs());
    let safe = options.iter().find(|(direction, (next_x, next_y))| {
        *direction != reverse
            && (0..BOARD).contains(next_x)
            && (0..BOARD).contains(next_y)
            && !cells.contains(&(*next_x, *next_y))
    })?;
    (safe.0 != current).then_some(safe.0)
}
