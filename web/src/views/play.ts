// The play page: pick a mode, start a game (`POST /api/games`), open its play channel with the
// ticket, draw every frame the server sends as it arrives, and send turns from the arrow keys,
// WASD, swipes on the board or the on-screen buttons; at the end, the score and the verified
// leaderboard entry the server recorded.

import {
  ClientMessageTypeEnum,
  Direction,
  GameMode,
  ServerMessageTypeEnum,
  type GameFrame,
  type GameStarted,
} from "../../../generated/typescript/index.js";
import {
  channelErrorDetail,
  channelUrl,
  currentSession,
  encodeClientMessage,
  gamesApi,
  parseServerMessage,
  refusalDetail,
} from "../api.js";
import { createBoardCanvas, drawBoard, STANDARD_BOARD } from "../board.js";
import { alertLine, element, field, statusLine } from "../dom.js";
import { accountForms } from "./account.js";
import { describeEndReason, modeName } from "./names.js";

/** Keys that turn the snake, arrow keys and WASD alike. */
const KEY_DIRECTIONS: Record<string, Direction> = {
  ArrowUp: Direction.Up,
  ArrowDown: Direction.Down,
  ArrowLeft: Direction.Left,
  ArrowRight: Direction.Right,
  w: Direction.Up,
  W: Direction.Up,
  s: Direction.Down,
  S: Direction.Down,
  a: Direction.Left,
  A: Direction.Left,
  d: Direction.Right,
  D: Direction.Right,
};

/** How far a finger must travel on the board, in CSS pixels, to count as a swipe. */
const SWIPE_THRESHOLD = 24;

/** Renders the play page into `main`; returns what stops it when the player navigates away. */
export function playView(main: HTMLElement, rerender: () => void): () => void {
  const heading = element("h1", { tabindex: "-1" }, "Play");
  if (currentSession() === null) {
    main.replaceChildren(heading, accountForms(rerender));
    return () => {};
  }

  const modeSelect = element("select", { id: "mode" });
  for (const mode of Object.values(GameMode)) {
    modeSelect.append(element("option", { value: mode }, modeName(mode)));
  }
  const startButton = element("button", { type: "button", id: "start-game" }, "Start a game");
  const score = element("output", { id: "score", "aria-live": "off" }, "0");
  const status = statusLine("game-status");
  const refusal = alertLine("game-refusal");
  const canvas = createBoardCanvas("The game board", STANDARD_BOARD);
  const boardFrame = element("div", { class: "board-frame" }, canvas);
  const controls = element("div", { class: "touch-controls", role: "group", "aria-label": "Turn the snake" });
  const buttonLabels: [Direction, string, string][] = [
    [Direction.Up, "Up", "▲"],
    [Direction.Left, "Left", "◀"],
    [Direction.Right, "Right", "▶"],
    [Direction.Down, "Down", "▼"],
  ];
  for (const [direction, label, arrow] of buttonLabels) {
    const button = element("button", { type: "button", class: `turn turn-${direction}`, "aria-label": `Turn ${label.toLowerCase()}` }, arrow);
    button.addEventListener("click", () => turn(direction));
    controls.append(button);
  }

  main.replaceChildren(
    heading,
    element(
      "div",
      { class: "game-setup" },
      field("Mode", modeSelect, "Walls: hitting the edge ends the game. Pass-through: the snake wraps around."),
      startButton,
    ),
    element("p", { class: "scoreline" }, "Score: ", score),
    status,
    refusal,
    boardFrame,
    controls,
    element("p", { class: "hint" }, "Steer with the arrow keys or W A S D, swipe on the board, or use the buttons."),
  );
  drawBoard(canvas, STANDARD_BOARD, [], undefined);

  let socket: WebSocket | null = null;
  let playing = false;

  function turn(direction: Direction): void {
    if (socket === null || socket.readyState !== WebSocket.OPEN || !playing) return;
    socket.send(encodeClientMessage({ type: ClientMessageTypeEnum.Turn, direction }));
  }

  function showFrame(started: GameStarted, frame: GameFrame): void {
    drawBoard(canvas, started, frame.snake, frame.food);
    score.textContent = String(frame.score);
    if (!frame.over) return;
    playing = false;
    startButton.disabled = false;
    startButton.textContent = "Play again";
    const verified = frame.entry?.verified === true ? " It is on the leaderboard as a verified score." : "";
    status.textContent = `Game over: ${describeEndReason(frame.endReason)}. You scored ${frame.score}.${verified}`;
    startButton.focus();
  }

  function start(): void {
    refusal.textContent = "";
    status.textContent = "Starting…";
    startButton.disabled = true;
    const mode = modeSelect.value as GameMode;
    gamesApi()
      .gamesStart({ gameStartRequest: { mode } })
      .then((started) => {
        canvas.width = started.width * 24;
        canvas.height = started.height * 24;
        const url = channelUrl(
          `/api/games/live/${encodeURIComponent(started.gameId)}/play?ticket=${encodeURIComponent(started.ticket)}`,
        );
        socket?.close();
        const opened = new WebSocket(url);
        socket = opened;
        playing = true;
        status.textContent = `Playing ${modeName(mode)}. Steer with the arrow keys, W A S D, a swipe or the buttons.`;
        opened.addEventListener("message", (event: MessageEvent<unknown>) => {
          if (typeof event.data !== "string") return;
          const message = parseServerMessage(event.data);
          if (message.type === ServerMessageTypeEnum.Frame && message.frame !== undefined) {
            showFrame(started, message.frame);
          } else if (message.type === ServerMessageTypeEnum.Error) {
            refusal.textContent = channelErrorDetail(message);
          }
        });
        opened.addEventListener("close", () => {
          if (playing) {
            playing = false;
            startButton.disabled = false;
            status.textContent = "The connection to the game closed.";
          }
        });
      })
      .catch(async (error: unknown) => {
        startButton.disabled = false;
        status.textContent = "";
        refusal.textContent = await refusalDetail(error);
      });
  }
  startButton.addEventListener("click", start);

  function onKey(event: KeyboardEvent): void {
    const direction = KEY_DIRECTIONS[event.key];
    if (direction === undefined || !playing) return;
    // While a game runs, these keys steer and must not scroll the page or change a form field.
    event.preventDefault();
    turn(direction);
  }
  document.addEventListener("keydown", onKey);

  let touchStart: { x: number; y: number } | null = null;
  canvas.addEventListener("touchstart", (event) => {
    const touch = event.touches[0];
    if (touch !== undefined) touchStart = { x: touch.clientX, y: touch.clientY };
  }, { passive: true });
  canvas.addEventListener("touchmove", (event) => {
    if (playing) event.preventDefault();
  }, { passive: false });
  canvas.addEventListener("touchend", (event) => {
    const touch = event.changedTouches[0];
    if (touchStart === null || touch === undefined) return;
    const dx = touch.clientX - touchStart.x;
    const dy = touch.clientY - touchStart.y;
    touchStart = null;
    if (Math.max(Math.abs(dx), Math.abs(dy)) < SWIPE_THRESHOLD) return;
    if (Math.abs(dx) > Math.abs(dy)) turn(dx > 0 ? Direction.Right : Direction.Left);
    else turn(dy > 0 ? Direction.Down : Direction.Up);
  });

  return () => {
    document.removeEventListener("keydown", onKey);
    playing = false;
    socket?.close();
  };
}
