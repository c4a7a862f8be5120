// The replay page (`/replay/{gameId}`): a finished game's summary (`GET /api/games/finished/{id}`)
// and its frames again over the replay channel, drawn with the same board code as live games.
// The channel is opened at the server's fastest pace (16 times the game's tick) and the page keeps
// the frames it receives, so the speed control (1× to 16×), pause and restart act at once, without
// reopening the channel: the page shows the frames at the chosen pace from what has arrived.

import {
  ServerMessageTypeEnum,
  type FinishedGameSummary,
  type GameFrame,
} from "../../../generated/typescript/index.js";
import { channelErrorDetail, channelUrl, gamesApi, parseServerMessage, refusalDetail } from "../api.js";
import { createBoardCanvas, drawBoard, STANDARD_BOARD } from "../board.js";
import { alertLine, element, field, statusLine } from "../dom.js";
import { describeEndReason, modeName } from "./names.js";

/** The speeds a viewer may pick, as multiples of the tick the game was played at. */
const SPEEDS = [1, 2, 4, 8, 16];

/** The channel's `speed`: the contract's fastest, so the frames arrive ahead of any chosen pace. */
const CHANNEL_SPEED = 16;

/** Renders the replay page into `main`; returns what stops it when the viewer navigates away. */
export function replayView(main: HTMLElement, gameId: string): () => void {
  const heading = element("h1", { tabindex: "-1" }, "Replay");
  const status = statusLine("replay-status");
  const refusal = alertLine("replay-refusal");
  const back = element("p", {}, element("a", { href: "/leaderboard" }, "Back to the leaderboard"));
  main.replaceChildren(heading, status, refusal, back);
  status.textContent = "Loading the game…";

  let stopped = false;
  let stopReplay: () => void = () => {};
  gamesApi()
    .gamesFinishedView({ gameId })
    .then((summary) => {
      if (stopped) return;
      stopReplay = showReplay(main, heading, status, refusal, back, summary);
    })
    .catch(async (error: unknown) => {
      const detail = await refusalDetail(error);
      if (stopped) return;
      status.textContent = "";
      refusal.textContent = detail;
    });
  return () => {
    stopped = true;
    stopReplay();
  };
}

/** A term and its description in the summary list. */
function summaryItem(term: string, description: string, id: string): HTMLElement[] {
  return [element("dt", {}, term), element("dd", { id }, description)];
}

/** Shows the summary and plays the frames; returns what closes the channel and stops the clock. */
function showReplay(
  main: HTMLElement,
  heading: HTMLElement,
  status: HTMLElement,
  refusal: HTMLElement,
  back: HTMLElement,
  summary: FinishedGameSummary,
): () => void {
  heading.textContent = `Replay: ${summary.username}, ${modeName(summary.mode)}`;
  document.title = `${heading.textContent} · Snake Arena`;
  const details = element(
    "dl",
    { class: "summary", id: "replay-summary" },
    ...summaryItem("Player", summary.username, "summary-player"),
    ...summaryItem("Mode", modeName(summary.mode), "summary-mode"),
    ...summaryItem("Final score", String(summary.score), "summary-score"),
    ...summaryItem("Length", `${summary.ticks} ticks of ${summary.tickMs} ms`, "summary-ticks"),
    ...summaryItem("Played", summary.startedAt.toLocaleString(), "summary-when"),
    ...summaryItem("Ended because", describeEndReason(summary.endReason), "summary-end"),
  );

  const speedSelect = element("select", { id: "replay-speed" });
  for (const speed of SPEEDS) {
    speedSelect.append(element("option", { value: String(speed) }, speed === 1 ? "1× (as played)" : `${speed}×`));
  }
  const pauseButton = element("button", { type: "button", id: "replay-pause", class: "secondary" }, "Pause");
  const restartButton = element("button", { type: "button", id: "replay-restart", class: "secondary" }, "Replay from the start");
  const score = element("output", { id: "score" }, "0");
  const tick = element("output", { id: "replay-tick" }, "0");
  const canvas = createBoardCanvas(`${summary.username}'s replayed board`, STANDARD_BOARD);
  main.replaceChildren(
    heading,
    details,
    element(
      "div",
      { class: "replay-controls" },
      field("Speed", speedSelect, "How many times faster than it was played."),
      pauseButton,
      restartButton,
    ),
    element("p", { class: "scoreline" }, "Score: ", score, element("span", { class: "tick" }, " · Tick ", tick, ` of ${summary.ticks}`)),
    status,
    refusal,
    element("div", { class: "board-frame" }, canvas),
    back,
  );
  drawBoard(canvas, STANDARD_BOARD, [], undefined);
  status.textContent = "Loading the frames…";

  /** Every frame received so far, in order; `shown` is the index of the one on the board. */
  const frames: GameFrame[] = [];
  let shown = -1;
  let paused = false;
  /** The clock: frame `clockIndex` was due at `clockStart`, then one every tick divided by the speed. */
  let clockIndex = 0;
  let clockStart = performance.now();
  let timer: number | undefined;

  const speed = (): number => Number(speedSelect.value);
  const interval = (): number => Math.max(summary.tickMs / speed(), 8);

  function draw(index: number): void {
    const frame = frames[index];
    if (frame === undefined) return;
    shown = index;
    drawBoard(canvas, STANDARD_BOARD, frame.snake, frame.food);
    score.textContent = String(frame.score);
    tick.textContent = String(frame.ticks);
    if (frame.over) {
      window.clearTimeout(timer);
      timer = undefined;
      pauseButton.disabled = true;
      status.textContent = `Replay over: ${describeEndReason(frame.endReason)}. ${frame.username} scored ${frame.score}.`;
    }
  }

  function rebaseClock(): void {
    clockIndex = Math.max(shown, 0);
    clockStart = performance.now();
  }

  function step(): void {
    timer = undefined;
    if (paused || frames.length === 0) return;
    const due = clockIndex + Math.floor(((performance.now() - clockStart) * speed()) / summary.tickMs);
    const last = frames.length - 1;
    if (due > last) {
      // The frames have not arrived yet: show the latest and wait for the rest from there.
      if (last > shown) draw(last);
      rebaseClock();
    } else if (due > shown) {
      draw(due);
    }
    if (frames[shown]?.over !== true) timer = window.setTimeout(step, interval());
  }

  function schedule(): void {
    window.clearTimeout(timer);
    timer = window.setTimeout(step, interval());
  }

  const socket = new WebSocket(
    channelUrl(`/api/games/finished/${encodeURIComponent(summary.gameId)}/replay?speed=${CHANNEL_SPEED}`),
  );
  let ended = false;
  socket.addEventListener("message", (event: MessageEvent<unknown>) => {
    if (typeof event.data !== "string") return;
    const message = parseServerMessage(event.data);
    if (message.type === ServerMessageTypeEnum.Frame && message.frame !== undefined) {
      frames.push(message.frame);
      if (message.frame.over) ended = true;
      if (shown < 0) {
        status.textContent = "Replaying.";
        draw(0);
        rebaseClock();
        schedule();
      }
    } else if (message.type === ServerMessageTypeEnum.Error) {
      ended = true;
      status.textContent = "";
      refusal.textContent = channelErrorDetail(message);
    }
  });
  socket.addEventListener("close", () => {
    if (!ended) {
      status.textContent = "";
      refusal.textContent = "The connection closed before the replay's last frame arrived.";
    }
  });

  speedSelect.addEventListener("change", () => {
    rebaseClock();
    if (!paused && frames[shown]?.over !== true) schedule();
  });
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (paused) {
      window.clearTimeout(timer);
      timer = undefined;
      status.textContent = "Paused.";
    } else {
      status.textContent = "Replaying.";
      rebaseClock();
      schedule();
    }
  });
  restartButton.addEventListener("click", () => {
    if (frames.length === 0) return;
    paused = false;
    pauseButton.textContent = "Pause";
    pauseButton.disabled = false;
    status.textContent = "Replaying.";
    draw(0);
    rebaseClock();
    schedule();
  });

  return () => {
    window.clearTimeout(timer);
    socket.close();
  };
}
