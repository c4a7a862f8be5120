//! Demo bots: server-side players that play real live games one after another, so the watch
//! page has something to show on a plain `cargo run`. Their games are listed and watchable like
//! any other, and never recorded: not on the leaderboard, and not as finished games either, so
//! bots playing for days do not grow the store.
//!
//! Bots are named `bot-1`, `bot-2` and so on: valid usernames, and no player can take them,
//! since sign-up refuses every username starting with [`BOT_NAME_PREFIX`].
//!
//! The strategy is simple: of the moves that do not end the game, prefer one whose cell still
//! has a way out, then the one closest to the food.
//!
//! Domain code: it never uses the HTTP edge or the wire types.

use crate::error::{Error, Result};
use crate::games::engine::{Direction, GRID_HEIGHT, GRID_WIDTH, GameView};
use crate::games::live::{LiveGames, PlaySession};
use crate::model::{Cell, GameMode};
use std::sync::Arc;

/// Every bot's name starts with this; sign-up refuses usernames that do, ignoring case.
pub const BOT_NAME_PREFIX: &str = "bot-";

/// Ticks a bot waits between two games, so its final frame stays on screen for a moment.
const TICKS_BETWEEN_GAMES: u32 = 10;

/// Whether a username is reserved for bots (compared ignoring case and surrounding whitespace).
pub fn is_bot_name(username: &str) -> bool {
    username.trim().to_lowercase().starts_with(BOT_NAME_PREFIX)
}

/// Starts `count` bots. Each has its first game running when this returns, then plays another
/// after each one ends, until the registry shuts down.
///
/// Their first ticks are spread evenly across one tick, as the games of players who press start
/// at different moments would be. Started in phase, every bot would tick in the same instant for
/// as long as its games last (each next game keeps the phase of the last), and the server would
/// send all their frames in one burst per tick instead of a steady stream.
pub fn start_demo_bots(live_games: &LiveGames, count: usize) -> Result<()> {
    let tick = live_games.settings().tick;
    for number in 1..=count {
        let name: Arc<str> = format!("{BOT_NAME_PREFIX}{number}").into();
        let first_mode = GameMode::ALL[number % GameMode::ALL.len()];
        let phase = tick.mul_f64((number - 1) as f64 / count as f64);
        let first_game =
            live_games.start_bot_with_first_tick_delay(Arc::clone(&name), first_mode, phase)?;
        tokio::spawn(play_forever(live_games.clone(), name, first_game));
    }
    Ok(())
}

/// Plays `first_game` and then one game after another, alternating modes, until the server shuts
/// down.
async fn play_forever(live_games: LiveGames, name: Arc<str>, first_game: PlaySession) {
    let pause = live_games.settings().tick * TICKS_BETWEEN_GAMES;
    let mut session = first_game;
    let mut games_played = 0usize;
    loop {
        play(&mut session).await;
        games_played += 1;
        loop {
            tokio::time::sleep(pause).await;
            if live_games.is_shutting_down() {
                return;
            }
            let mode = GameMode::ALL[games_played % GameMode::ALL.len()];
            match live_games.start_bot(Arc::clone(&name), mode) {
                Ok(next) => {
                    session = next;
                    break;
                }
                // The server is full of real games: the bot waits for room.
                Err(Error::TooManyLiveGames) => continue,
                Err(_) => return,
            }
        }
    }
}

/// Plays one game to its end: after each frame, one turn for the next tick.
async fn play(session: &mut PlaySession) {
    while let Some(frame) = session.frames.next().await {
        if frame.is_final() {
            return;
        }
        let view = &frame.frame.view;
        let chosen = choose_direction(view);
        if chosen != view.direction {
            session.turns.send(chosen);
        }
    }
}

/// The bot's move for the next tick, given the game as it stands.
pub fn choose_direction(view: &GameView) -> Direction {
    let Some(&head) = view.snake.first() else {
        return view.direction;
    };
    let candidates = Direction::ALL
        .into_iter()
        .filter(|direction| *direction != view.direction.opposite());
    candidates
        .max_by_key(|&direction| {
            let Some(next) = neighbour(head, direction, view.mode) else {
                return (false, false, i32::MIN, false);
            };
            let survives = !view.snake.contains(&next);
            let has_a_way_out = Direction::ALL
                .into_iter()
                .filter_map(|onward| neighbour(next, onward, view.mode))
                .any(|cell| cell != head && !view.snake.contains(&cell));
            let closeness = view
                .food
                .map(|food| -distance(next, food, view.mode))
                .unwrap_or(0);
            (
                survives,
                has_a_way_out,
                closeness,
                direction == view.direction,
            )
        })
        .unwrap_or(view.direction)
}

/// The cell one step from `cell`, or `None` off the board in `walls`.
fn neighbour(cell: Cell, direction: Direction, mode: GameMode) -> Option<Cell> {
    let (step_x, step_y) = match direction {
        Direction::Up => (0, -1),
        Direction::Down => (0, 1),
        Direction::Left => (-1, 0),
        Direction::Right => (1, 0),
    };
    let x = i32::from(cell.x) + step_x;
    let y = i32::from(cell.y) + step_y;
    let (width, height) = (i32::from(GRID_WIDTH), i32::from(GRID_HEIGHT));
    match mode {
        GameMode::Walls => {
            let inside = (0..width).contains(&x) && (0..height).contains(&y);
            inside.then_some(Cell {
                x: x as u16,
                y: y as u16,
            })
        }
        GameMode::PassThrough => Some(Cell {
            x: x.rem_euclid(width) as u16,
            y: y.rem_euclid(height) as u16,
        }),
    }
}

/// Steps from one cell to another, across the edges in `pass-through`.
fn distance(from: Cell, to: Cell, mode: GameMode) -> i32 {
    let along = |a: u16, b: u16, size: u16| {
        let straight = i32::from(a.abs_diff(b));
        match mode {
            GameMode::Walls => straight,
            GameMode::PassThrough => straight.min(i32::from(size) - straight),
        }
    };
    along(from.x, to.x, GRID_WIDTH) + along(from.y, to.y, GRID_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::engine::Game;
    use crate::games::frames::{Frame, FrameEncoder};
    use crate::games::live::LiveGamesSettings;
    use crate::model::ScoreFilter;
    use crate::store::{MemoryStore, Store};
    use std::time::Duration;

    #[test]
    fn bot_names_are_reserved_ignoring_case_and_player_names_are_not() {
        assert!(is_bot_name("bot-1"));
        assert!(is_bot_name(" BOT-snake "));
        assert!(!is_bot_name("robot-1"));
        assert!(!is_bot_name("botany"));
    }

    #[test]
    fn a_bot_following_its_own_choices_scores_and_outlives_a_snake_going_straight() {
        for mode in GameMode::ALL {
            let mut game = Game::new(mode, 42);
            while !game.is_over() && game.ticks() < 2_000 {
                game.turn(choose_direction(&game.view()));
                game.advance();
            }
            assert!(game.score() >= 50, "{mode:?} scored {}", game.score());
            assert!(game.ticks() > 11, "{mode:?}");
        }
    }

    #[test]
    fn a_bot_at_the_top_wall_turns_towards_the_food_instead_of_into_the_wall() {
        let view = GameView {
            mode: GameMode::Walls,
            snake: vec![
                Cell { x: 10, y: 0 },
                Cell { x: 10, y: 1 },
                Cell { x: 10, y: 2 },
            ],
            food: Some(Cell { x: 2, y: 0 }),
            score: 0,
            direction: Direction::Up,
            ticks: 10,
            end: None,
        };
        assert_eq!(choose_direction(&view), Direction::Left);
    }

    #[tokio::test(start_paused = true)]
    async fn demo_bots_keep_playing_listed_games_and_never_score_on_the_leaderboard() {
        let store = Arc::new(MemoryStore::new());
        let encoder: FrameEncoder = Arc::new(|_: &Frame| bytes::Bytes::new());
        let live_games = LiveGames::new(
            Arc::clone(&store) as Arc<dyn Store>,
            LiveGamesSettings::default(),
            encoder,
        );
        start_demo_bots(&live_games, 3).expect("bots start");
        let names: Vec<String> = live_games
            .current_frames()
            .iter()
            .map(|frame| frame.frame.username.to_string())
            .collect();
        assert_eq!(names.len(), 3);
        assert!(names.iter().all(|name| is_bot_name(name)));
        // Long enough for several games each.
        tokio::time::sleep(Duration::from_secs(10 * 60)).await;
        assert!(live_games.live_game_count() <= 3);
        assert_eq!(
            store.top_scores(ScoreFilter::mode(None), 10).await,
            Ok(Vec::new())
        );
        live_games.shut_down().await;
        assert_eq!(live_games.live_game_count(), 0);
    }
}
