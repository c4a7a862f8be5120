// Drives the TypeScript client generated from openapi.yaml (generated/typescript/) against a live
// server at SNAKE_ARENA_URL, to prove that the client a frontend imports really speaks the API.
// `cargo xtask ts-client-test` starts a seeded server and sets the variable; any seeded server
// works, since every run signs up its own fresh players.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import {
  AuthApi,
  Configuration,
  GameMode,
  GamesApi,
  HealthApi,
  LeaderboardApi,
  ModelErrorFromJSON,
  ResponseError,
  ServerMessageFromJSON,
  ServerMessageTypeEnum,
  type GameFrame,
  type ModelError,
  type User,
} from "../../../generated/typescript/index.js";

const baseUrl = process.env["SNAKE_ARENA_URL"]?.replace(/\/+$/, "");
if (!baseUrl) {
  throw new Error(
    "Set SNAKE_ARENA_URL to a running server's base URL, e.g. http://127.0.0.1:8000 (or run `cargo xtask ts-client-test`).",
  );
}
const basePath: string = baseUrl;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const usernamePattern = /^[A-Za-z0-9_-]{3,20}$/;
const gameModes: readonly string[] = Object.values(GameMode);

/** The client's configuration, with the bearer token when the call needs one. */
function configuration(token?: string): Configuration {
  return new Configuration(token === undefined ? { basePath } : { basePath, accessToken: token });
}

/** A player no earlier run has used: the username is 15 characters of the allowed alphabet. */
function freshPlayer(): { email: string; username: string; password: string } {
  const username = `ts_${randomBytes(6).toString("hex")}`;
  return { email: `${username}@example.com`, username, password: `pw-${randomBytes(8).toString("hex")}` };
}

/** Awaits a call that must be refused, and returns the status and the `{code, detail}` body. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; body: ModelError }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    const json: unknown = await error.response.json();
    assert.ok(typeof json === "object" && json !== null, "the error body is a JSON object");
    assert.deepEqual(Object.keys(json).sort(), ["code", "detail"], "the error body is exactly {code, detail}");
    const body = ModelErrorFromJSON(json);
    assert.equal(typeof body.code, "string");
    assert.equal(typeof body.detail, "string");
    assert.ok(body.detail.length > 0, "the detail is fit to show to a player, so not empty");
    return { status: error.response.status, body };
  }
  assert.fail("the call should have been refused");
}

function assertIsUser(user: User, expected: { email: string; username: string }): void {
  assert.match(user.id, uuidPattern);
  assert.equal(user.username, expected.username);
  assert.equal(user.email, expected.email);
}

test("the health check says the server and its store are ok", async () => {
  const health = await new HealthApi(configuration()).healthCheck();
  assert.equal(health.status, "ok");
  assert.ok(health.store.length > 0, "the health check names the store backend");
});

test("a new player signs up, logs in, submits a score the leaderboard lists, and logs out", async () => {
  const player = freshPlayer();

  const signedUp = await new AuthApi(configuration()).authSignup({ signupRequest: player });
  assertIsUser(signedUp.user, player);
  assert.ok(signedUp.token.length >= 32, "a token has at least 32 characters");

  const loggedIn = await new AuthApi(configuration()).authLogin({
    loginRequest: { email: player.email, password: player.password },
  });
  assert.deepEqual(loggedIn.user, signedUp.user);
  assert.notEqual(loggedIn.token, signedUp.token, "every login issues a new token");

  const auth = new AuthApi(configuration(loggedIn.token));
  assert.deepEqual(await auth.authMe(), signedUp.user);

  const submitted = await new LeaderboardApi(configuration(loggedIn.token)).leaderboardSubmit({
    scoreSubmission: { score: 1_000_000, mode: GameMode.PassThrough },
  });
  assert.match(submitted.id, uuidPattern);
  assert.equal(submitted.username, player.username);
  assert.equal(submitted.score, 1_000_000);
  assert.equal(submitted.mode, GameMode.PassThrough);
  assert.ok(submitted.timestamp instanceof Date, "the client turns the timestamp into a Date");
  assert.ok(!Number.isNaN(submitted.timestamp.getTime()), "the timestamp is a valid RFC 3339 time");

  const leaderboard = await new LeaderboardApi(configuration()).leaderboardList({
    mode: GameMode.PassThrough,
    limit: 100,
  });
  assert.ok(leaderboard.length <= 100, "the limit is respected");
  assert.deepEqual(
    leaderboard.find((entry) => entry.id === submitted.id),
    submitted,
    "the leaderboard lists the submitted score exactly as the submission returned it",
  );
  for (const [index, entry] of leaderboard.entries()) {
    assert.equal(entry.mode, GameMode.PassThrough, "only the requested mode is listed");
    const previous = leaderboard[index - 1];
    if (previous !== undefined) {
      assert.ok(previous.score >= entry.score, "the leaderboard is ordered best first");
    }
  }

  await auth.authLogout();
  const afterLogout = await refusal(auth.authMe());
  assert.equal(afterLogout.status, 401);
  assert.equal(afterLogout.body.code, "unauthenticated", "the logged-out token is revoked at once");
  assert.deepEqual(
    await new AuthApi(configuration(signedUp.token)).authMe(),
    signedUp.user,
    "logging out revokes only the token used for the call",
  );
});

test("spectators see the active games, each snake and its food on the board", async () => {
  const games = await new GamesApi(configuration()).gamesActiveList();
  assert.ok(games.length > 0, "a seeded server has active games (start it without --no-seed)");
  const onBoard = (cell: { x: number; y: number }): boolean =>
    Number.isInteger(cell.x) && Number.isInteger(cell.y) && cell.x >= 0 && cell.x <= 99 && cell.y >= 0 && cell.y <= 99;
  for (const game of games) {
    assert.match(game.id, uuidPattern);
    assert.match(game.username, usernamePattern);
    assert.ok(gameModes.includes(game.mode), `${game.mode} is a game mode`);
    assert.ok(Number.isInteger(game.score) && game.score >= 0 && game.score <= 1_000_000);
    assert.ok(game.snake.length >= 1, "a snake has at least its head");
    assert.ok(game.snake.every(onBoard), "every snake cell is on the board");
    assert.ok(onBoard(game.food), "the food is on the board");
  }
});

test("a spectator watches a live game over the watch channel, frame after frame, in the generated types", async () => {
  const games = await new GamesApi(configuration()).gamesActiveList();
  const game = games[0];
  assert.ok(game !== undefined, "a seeded server has live games (its demo bots)");
  const socket = new WebSocket(`${basePath.replace(/^http/, "ws")}/api/games/live/${game.id}/watch`);
  const frames: GameFrame[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", (event: MessageEvent) => {
      const message = ServerMessageFromJSON(JSON.parse(String(event.data)));
      if (message.type !== ServerMessageTypeEnum.Frame || message.frame === undefined) {
        reject(new Error(`expected a frame, got ${String(event.data)}`));
        return;
      }
      frames.push(message.frame);
      // The current frame, then two ticks' frames (the default tick is 150 ms).
      if (frames.length === 3) {
        socket.close();
        resolve();
      }
    });
    // A bot's game may end within two ticks; the server then closes after the final frame.
    socket.addEventListener("close", () => resolve());
    socket.addEventListener("error", () => reject(new Error("the watch channel failed")));
  });
  assert.ok(frames.length > 0, "the current frame arrives at once");
  assert.equal(frames[0]?.gameId, game.id);
  frames.slice(1).forEach((frame, index) => {
    assert.equal(frame.sequence, (frames[index]?.sequence ?? 0) + 1, "frames arrive in order, none missing");
  });
  assert.ok(frames.every((frame) => frame.snake.length >= 3 && frame.username === game.username));
});

test("a wrong password is refused with a 401 whose code and detail a program can read", async () => {
  const player = freshPlayer();
  await new AuthApi(configuration()).authSignup({ signupRequest: player });
  const refused = await refusal(
    new AuthApi(configuration()).authLogin({
      loginRequest: { email: player.email, password: `${player.password}-wrong` },
    }),
  );
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, "invalid_credentials");
});

test("a score submitted without a token is refused as unauthenticated", async () => {
  const refused = await refusal(
    new LeaderboardApi(configuration()).leaderboardSubmit({
      scoreSubmission: { score: 10, mode: GameMode.Walls },
    }),
  );
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, "unauthenticated");
});

test("a signup that breaks the contract is refused with a 400 naming the field", async () => {
  const player = { ...freshPlayer(), username: "x" };
  const refused = await refusal(new AuthApi(configuration()).authSignup({ signupRequest: player }));
  assert.equal(refused.status, 400);
  assert.equal(refused.body.code, "invalid_input");
  assert.match(refused.body.detail, /username/);
});
