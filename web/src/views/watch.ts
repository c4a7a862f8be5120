// The watch pages: the list of games being played right now, polled every two seconds
// (`GET /api/games/active`) so games appear as they start and go as they end, each with its
// board live over its watch channel; and one game alone, large (`/watch/{gameId}`).

import { ServerMessageTypeEnum, type ActiveGame, type GameFrame } from "../../../generated/typescript/index.js";
import { channelErrorDetail, channelUrl, gamesApi, parseServerMessage, refusalDetail } from "../api.js";
import { createBoardCanvas, drawBoard, STANDARD_BOARD } from "../board.js";
import { alertLine, element, statusLine } from "../dom.js";
import { describeEndReason, modeName } from "./names.js";

const POLL_INTERVAL_MS = 2000;

/** Opens a game's watch channel and hands every frame to `onFrame`; returns the socket. */
function watchChannel(gameId: string, onFrame: (frame: GameFrame) => void, onError: (detail: string) => void): WebSocket {
  const socket = new WebSocket(channelUrl(`/api/games/live/${encodeURIComponent(gameId)}/watch`));
  socket.addEventListener("message", (event: MessageEvent<unknown>) => {
    if (typeof event.data !== "string") return;
    const message = parseServerMessage(event.data);
    if (message.type === ServerMessageTypeEnum.Frame && message.frame !== undefined) onFrame(message.frame);
    else if (message.type === ServerMessageTypeEnum.Error) onError(channelErrorDetail(message));
  });
  return socket;
}

/** A live game in the list: its card and the channel that keeps its board current. */
interface WatchedGame {
  card: HTMLLIElement;
  socket: WebSocket;
}

export function watchListView(main: HTMLElement): () => void {
  const list = element("ul", { id: "live-games", class: "live-games", "aria-label": "Games being played" });
  const status = statusLine("watch-status");
  const refusal = alertLine("watch-refusal");
  main.replaceChildren(element("h1", { tabindex: "-1" }, "Watch"), status, refusal, list);
  const watched = new Map<string, WatchedGame>();
  let stopped = false;

  function card(game: ActiveGame): WatchedGame {
    const canvas = createBoardCanvas(`${game.username}'s board`, STANDARD_BOARD);
    const score = element("span", { class: "score" }, String(game.score));
    drawBoard(canvas, STANDARD_BOARD, game.snake, game.food);
    const item = element(
      "li",
      { class: "live-game", "data-game-id": game.id },
      element("a", { href: `/watch/${encodeURIComponent(game.id)}` }, `${game.username}, ${modeName(game.mode)}`),
      element("p", {}, "Score: ", score),
      canvas,
    );
    const socket = watchChannel(
      game.id,
      (frame) => {
        drawBoard(canvas, STANDARD_BOARD, frame.snake, frame.food);
        score.textContent = String(frame.score);
      },
      () => {},
    );
    return { card: item, socket };
  }

  function poll(): void {
    gamesApi()
      .gamesActiveList()
      .then((games) => {
        if (stopped) return;
        refusal.textContent = "";
        const live = new Set(games.map((game) => game.id));
        for (const [id, game] of watched) {
          if (!live.has(id)) {
            game.socket.close();
            game.card.remove();
            watched.delete(id);
          }
        }
        for (const game of games) {
          if (!watched.has(game.id)) {
            const created = card(game);
            watched.set(game.id, created);
            list.append(created.card);
          }
        }
        status.textContent = games.length === 0 ? "Nobody is playing right now." : `${games.length} games being played.`;
      })
      .catch(async (error: unknown) => {
        refusal.textContent = await refusalDetail(error);
      });
  }
  poll();
  const timer = window.setInterval(poll, POLL_INTERVAL_MS);
  return () => {
    stopped = true;
    window.clearInterval(timer);
    for (const game of watched.values()) game.socket.close();
  };
}

export function watchGameView(main: HTMLElement, gameId: string): () => void {
  const heading = element("h1", { tabindex: "-1" }, "Watching a game");
  const status = statusLine("watch-game-status");
  const refusal = alertLine("watch-game-refusal");
  const score = element("output", { id: "score" }, "0");
  const tick = element("output", { id: "watch-tick" }, "0");
  const canvas = createBoardCanvas("The game being watched", STANDARD_BOARD);
  main.replaceChildren(
    heading,
    status,
    refusal,
    element("p", { class: "scoreline" }, "Score: ", score, element("span", { class: "tick" }, " · Tick ", tick)),
    element("div", { class: "board-frame" }, canvas),
    element("p", {}, element("a", { href: "/watch" }, "All live games")),
  );
  drawBoard(canvas, STANDARD_BOARD, [], undefined);
  gamesApi()
    .gamesLiveView({ gameId })
    .then((frame) => {
      heading.textContent = `Watching ${frame.username} (${modeName(frame.mode)})`;
    })
    .catch(async (error: unknown) => {
      refusal.textContent = await refusalDetail(error);
    });
  const socket = watchChannel(
    gameId,
    (frame) => {
      drawBoard(canvas, STANDARD_BOARD, frame.snake, frame.food);
      score.textContent = String(frame.score);
      tick.textContent = String(frame.ticks);
      status.textContent = frame.over ? `Game over: ${describeEndReason(frame.endReason)}.` : "Live.";
    },
    (detail) => {
      refusal.textContent = detail;
    },
  );
  return () => socket.close();
}
