// The web client's entry point: a small client-side router over the History API (the server
// answers index.html on every route below), the header's account area, and focus moved to each
// new page's heading so keyboard and screen-reader users land where the content is.

import "./style.css";
import { renderAccountArea } from "./views/account.js";
import { leaderboardView } from "./views/leaderboard.js";
import { playView } from "./views/play.js";
import { replayView } from "./views/replay.js";
import { watchGameView, watchListView } from "./views/watch.js";
import { element } from "./dom.js";

const main = document.getElementById("main") as HTMLElement;
const accountArea = document.getElementById("account") as HTMLElement;

/** Stops the current page (closes its channels, timers and key handlers). */
let stopCurrentView: () => void = () => {};

function homeView(target: HTMLElement): () => void {
  target.replaceChildren(
    element("h1", { tabindex: "-1" }, "Snake Arena"),
    element("p", {}, "Play Snake in two modes, climb the leaderboard, and watch the games being played right now."),
    element(
      "ul",
      { class: "home-links" },
      element("li", {}, element("a", { href: "/play" }, "Play a game")),
      element("li", {}, element("a", { href: "/leaderboard" }, "See the leaderboard")),
      element("li", {}, element("a", { href: "/watch" }, "Watch live games")),
    ),
  );
  return () => {};
}

function notFoundView(target: HTMLElement): () => void {
  target.replaceChildren(
    element("h1", { tabindex: "-1" }, "Page not found"),
    element("p", {}, element("a", { href: "/" }, "Go to the start page")),
  );
  return () => {};
}

/** Draws the page for the current location. */
function render(moveFocus: boolean): void {
  stopCurrentView();
  renderAccountArea(accountArea);
  const path = window.location.pathname;
  const segments = path.split("/").filter((segment) => segment !== "");
  const [first, second] = segments;
  if (segments.length === 0) stopCurrentView = homeView(main);
  else if (first === "play" && segments.length === 1) stopCurrentView = playView(main, () => render(true));
  else if (first === "leaderboard" && segments.length === 1) stopCurrentView = leaderboardView(main);
  else if (first === "watch" && segments.length === 1) stopCurrentView = watchListView(main);
  else if (first === "watch" && second !== undefined && segments.length === 2)
    stopCurrentView = watchGameView(main, decodeURIComponent(second));
  else if (first === "replay" && second !== undefined && segments.length === 2)
    stopCurrentView = replayView(main, decodeURIComponent(second));
  else stopCurrentView = notFoundView(main);
  for (const link of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    if (link.pathname === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const heading = main.querySelector("h1");
  document.title = heading?.textContent ? `${heading.textContent} · Snake Arena` : "Snake Arena";
  if (moveFocus) heading?.focus();
}

/** Follows links to this origin without reloading the page. */
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = (event.target as Element | null)?.closest("a");
  if (link === null || link === undefined || link.origin !== window.location.origin || link.target !== "") return;
  if (link.pathname.startsWith("/api/")) return;
  event.preventDefault();
  if (link.pathname !== window.location.pathname) window.history.pushState(null, "", link.pathname);
  render(true);
});
window.addEventListener("popstate", () => render(true));
window.addEventListener("snake-arena-session", () => render(false));

render(false);
