// The leaderboard page: the top 20 of one mode at a time (`GET /api/leaderboard`), verified
// scores (recorded by the server from games it ran) marked, each with a link to its replay,
// optionally shown alone.

import { GameMode, type LeaderboardEntry } from "../../../generated/typescript/index.js";
import { leaderboardApi, refusalDetail } from "../api.js";
import { alertLine, element, statusLine } from "../dom.js";
import { modeName } from "./names.js";

const LIMIT = 20;

export function leaderboardView(main: HTMLElement): () => void {
  let mode: GameMode = GameMode.Walls;
  let verifiedOnly = false;
  let stopped = false;

  const modeButtons = element("div", { class: "mode-switch", role: "group", "aria-label": "Mode" });
  const buttons = Object.values(GameMode).map((candidate) => {
    const button = element("button", { type: "button", class: "secondary", "data-mode": candidate }, modeName(candidate));
    button.addEventListener("click", () => {
      mode = candidate;
      load();
    });
    modeButtons.append(button);
    return button;
  });
  const verifiedBox = element("input", { type: "checkbox", id: "verified-only" });
  verifiedBox.addEventListener("change", () => {
    verifiedOnly = verifiedBox.checked;
    load();
  });
  const status = statusLine("leaderboard-status");
  const refusal = alertLine("leaderboard-refusal");
  const body = element("tbody");
  const caption = element("caption");
  const table = element(
    "table",
    { id: "leaderboard" },
    caption,
    element(
      "thead",
      {},
      element(
        "tr",
        {},
        element("th", { scope: "col" }, "Rank"),
        element("th", { scope: "col" }, "Player"),
        element("th", { scope: "col" }, "Score"),
        element("th", { scope: "col" }, "Verified"),
        element("th", { scope: "col" }, "Replay"),
        element("th", { scope: "col", class: "when" }, "When"),
      ),
    ),
    body,
  );
  main.replaceChildren(
    element("h1", { tabindex: "-1" }, "Leaderboard"),
    element(
      "div",
      { class: "toolbar" },
      modeButtons,
      element("div", { class: "check" }, verifiedBox, element("label", { for: "verified-only" }, "Verified scores only")),
    ),
    status,
    refusal,
    element("div", { class: "table-scroll" }, table),
    element("p", { class: "hint" }, "✓ marks a verified score: the server ran the game and recorded its score itself."),
  );

  function row(entry: LeaderboardEntry, rank: number): HTMLTableRowElement {
    const verified = entry.verified
      ? element("span", { class: "verified", title: "Verified: recorded by the server from a game it ran" }, "✓ verified")
      : element("span", { class: "unverified" }, "–");
    // A verified entry names the game the server ran, whose replay the server keeps.
    const replay =
      entry.verified && entry.gameId !== undefined
        ? element("a", { class: "replay-link", href: `/replay/${encodeURIComponent(entry.gameId)}` }, "Replay")
        : element("span", { class: "unverified" }, "–");
    return element(
      "tr",
      { class: entry.verified ? "entry verified-entry" : "entry" },
      element("td", {}, String(rank)),
      element("td", { class: "player" }, entry.username),
      element("td", { class: "score" }, String(entry.score)),
      element("td", {}, verified),
      element("td", {}, replay),
      element("td", { class: "when" }, entry.timestamp.toLocaleDateString()),
    );
  }

  function load(): void {
    for (const button of buttons) {
      button.setAttribute("aria-pressed", String(button.dataset["mode"] === mode));
    }
    caption.textContent = `Top ${LIMIT}, ${modeName(mode)}${verifiedOnly ? ", verified only" : ""}`;
    status.textContent = "Loading…";
    refusal.textContent = "";
    const request = verifiedOnly ? { mode, limit: LIMIT, verified: true } : { mode, limit: LIMIT };
    leaderboardApi()
      .leaderboardList(request)
      .then((entries) => {
        if (stopped) return;
        body.replaceChildren(...entries.map((entry, index) => row(entry, index + 1)));
        status.textContent = entries.length === 0 ? "No scores yet." : `${entries.length} scores.`;
      })
      .catch(async (error: unknown) => {
        status.textContent = "";
        refusal.textContent = await refusalDetail(error);
      });
  }
  load();
  return () => {
    stopped = true;
  };
}
