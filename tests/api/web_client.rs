//! The web client at `/` in headless Chromium, used as players use it: sign up through the form,
//! play a game to game over from the keyboard while a second browser context watches it (the
//! head it draws must be the server's), find the verified score on the leaderboard and replay it;
//! log in with a wrong password and log out; steer by tapping the on-screen buttons and swiping
//! at a phone's width; every page at 375 px without sideways scrolling, and through axe-core
//! (from `web/node_modules/`) with no serious or critical violation; and the first page's bytes
//! and first paint, measured and printed. Chromium is driven over the DevTools protocol (a
//! WebSocket to `--remote-debugging-port`), which also reports every console message, CSP
//! violation, request and WebSocket frame, so the tests can require none to fail, none to leave
//! the server's host, and every frame to arrive.
//!
//! Chromium is found, or the tests skipped, as in `browser.rs`; axe-core likewise (`npm ci` in
//! `web/`), required when `SNAKE_ARENA_REQUIRE_BROWSER` is set.

use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::browser::chromium;
use crate::common::{TestContext, unique_suffix};

/// How long the browser may take to start, and any one page to reach the state a test awaits.
const BROWSER_START_LIMIT: Duration = Duration::from_secs(30);
const PAGE_STATE_LIMIT: Duration = Duration::from_secs(30);

/// Records, in the page before any of its own scripts run, every CSP violation it reports.
const VIOLATION_RECORDER: &str = "window.__cspViolations = [];\
     document.addEventListener('securitypolicyviolation', (event) => \
     window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI));";

/// Where a test keeps the screenshots it takes: `target/tmp/web-client/` (CI keeps it as an
/// artefact). With `SNAKE_ARENA_README_SCREENSHOTS` set, the ones README shows are also copied
/// into `docs/screenshots/`.
const SCREENSHOT_DIRECTORY: &str = "web-client";
const README_SCREENSHOTS_VARIABLE: &str = "SNAKE_ARENA_README_SCREENSHOTS";

/// axe-core's browser build, from the web client's npm packages (`npm ci` in `web/`).
const AXE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/web/node_modules/axe-core/axe.min.js"
);

/// A WebSocket to one of Chromium's DevTools endpoints (`/devtools/browser/…` or
/// `/devtools/page/…`) on its debugging port.
type DevToolsSocket = WebSocketStream<reqwest::Upgraded>;

async fn devtools_socket(url: &str) -> DevToolsSocket {
    let key = base64::engine::general_purpose::STANDARD.encode(unique_suffix().to_be_bytes());
    let upgraded = reqwest::Client::new()
        .get(url.replacen("ws://", "http://", 1))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(upgraded.status(), reqwest::StatusCode::SWITCHING_PROTOCOLS);
    WebSocketStream::from_raw_socket(upgraded.upgrade().await.unwrap(), Role::Client, None).await
}

/// Sends one DevTools command on `socket` and returns its result; events before it go to
/// `events`.
async fn devtools_call(
    socket: &mut DevToolsSocket,
    id: u64,
    method: &str,
    params: Value,
    events: &mut Vec<Value>,
) -> Value {
    let command = json!({ "id": id, "method": method, "params": params });
    socket
        .send(Message::text(command.to_string()))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(PAGE_STATE_LIMIT, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no answer to {method}"))
            .expect("the DevTools connection stays open")
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["id"] == id {
            assert!(message.get("error").is_none(), "{method}: {message}");
            return message["result"].clone();
        }
        events.push(message);
    }
}

/// A page (a tab) of a headless Chromium, driven over the DevTools protocol. The first page
/// owns the Chromium process; a page opened with [`Browser::open_in_new_context`] lives in a
/// browser context of its own (its own storage, cache and cookies, like another person's browser)
/// of the same process.
struct Browser {
    process: Option<tokio::process::Child>,
    profile: Option<std::path::PathBuf>,
    /// Chromium's debugging port and the path of its browser-level endpoint.
    port: String,
    browser_path: String,
    /// For a page in a context of its own: the browser-level connection that created the
    /// context, kept open while the page is used.
    _context_owner: Option<DevToolsSocket>,
    socket: DevToolsSocket,
    next_id: u64,
    /// Every event the browser sent so far, in order.
    events: Vec<Value>,
}

impl Browser {
    async fn launch(chromium: &str) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "snake-arena-web-client-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        let process = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Chromium starts");
        // Chromium writes the port it picked, and its browser endpoint's path, into the profile
        // once it listens.
        let port_file = profile.join("DevToolsActivePort");
        let started = tokio::time::Instant::now();
        let (port, browser_path) = loop {
            let text = std::fs::read_to_string(&port_file).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next())
                && !port.is_empty()
                && !path.is_empty()
            {
                break (port.to_owned(), path.to_owned());
            }
            assert!(
                started.elapsed() < BROWSER_START_LIMIT,
                "Chromium did not open its DevTools port"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let targets: Value = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/json/list"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page_url = targets
            .as_array()
            .and_then(|targets| targets.iter().find(|target| target["type"] == "page"))
            .and_then(|target| target["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let socket = devtools_socket(&page_url).await;
        Self::attach(
            Some(process),
            Some(profile),
            port,
            browser_path,
            None,
            socket,
        )
        .await
    }

    /// Opens a blank page in a new browser context of the same Chromium.
    async fn open_in_new_context(&self) -> Self {
        let mut control = devtools_socket(&format!(
            "ws://127.0.0.1:{}{}",
            self.port, self.browser_path
        ))
        .await;
        let mut ignored = Vec::new();
        let created = devtools_call(
            &mut control,
            1,
            "Target.createBrowserContext",
            json!({}),
            &mut ignored,
        )
        .await;
        let target = devtools_call(
            &mut control,
            2,
            "Target.createTarget",
            json!({ "url": "about:blank", "browserContextId": created["browserContextId"] }),
            &mut ignored,
        )
        .await;
        let target_id = target["targetId"].as_str().expect("a target id");
        let socket = devtools_socket(&format!(
            "ws://127.0.0.1:{}/devtools/page/{target_id}",
            self.port
        ))
        .await;
        Self::attach(
            None,
            None,
            self.port.clone(),
            self.browser_path.clone(),
            Some(control),
            socket,
        )
        .await
    }

    /// Turns on the events the tests read, and the CSP violation recorder, on a new page.
    async fn attach(
        process: Option<tokio::process::Child>,
        profile: Option<std::path::PathBuf>,
        port: String,
        browser_path: String,
        context_owner: Option<DevToolsSocket>,
        socket: DevToolsSocket,
    ) -> Self {
        let mut browser = Self {
            process,
            profile,
            port,
            browser_path,
            _context_owner: context_owner,
            socket,
            next_id: 0,
            events: Vec::new(),
        };
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            browser.call(domain, json!({})).await;
        }
        browser
            .call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": VIOLATION_RECORDER }),
            )
            .await;
        browser
    }

    /// Sends one DevTools command and returns its result, keeping the events that come before.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        devtools_call(
            &mut self.socket,
            self.next_id,
            method,
            params,
            &mut self.events,
        )
        .await
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    async fn evaluate(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` evaluates to `true`, and fails with `what` after the limit.
    async fn wait_for(&mut self, expression: &str, what: &str) {
        let started = tokio::time::Instant::now();
        while self.evaluate(expression).await != Value::Bool(true) {
            if started.elapsed() > PAGE_STATE_LIMIT {
                let text = self.evaluate("document.body.innerText").await;
                panic!("{what} did not happen; the page says: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Loads `url` and waits until its scripts have run.
    async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete' && document.querySelector('main h1') !== null",
            &format!("loading {url}"),
        )
        .await;
    }

    /// Presses and releases one key, as a keyboard would (`text` for keys that type).
    async fn press(&mut self, key: &str, code: &str, key_code: u32, text: Option<&str>) {
        let mut down = json!({
            "type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": key_code, "nativeVirtualKeyCode": key_code,
        });
        if let Some(text) = text {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down).await;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": key_code }),
        )
        .await;
    }

    /// Presses Tab until the element with `id` has the focus, as a keyboard user reaches it.
    async fn tab_to(&mut self, id: &str) {
        for _ in 0..40 {
            if self.evaluate("document.activeElement?.id ?? ''").await == id {
                return;
            }
            self.press("Tab", "Tab", 9, None).await;
        }
        panic!("#{id} cannot be reached with the Tab key");
    }

    /// Types text into the focused field.
    async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Fails on any console error or warning, uncaught exception, CSP violation, or request to
    /// another host than `origin`'s.
    async fn assert_nothing_went_wrong(&mut self, origin: &str) {
        self.assert_nothing_went_wrong_but_refusals_of(origin, &[])
            .await;
    }

    /// Like [`Browser::assert_nothing_went_wrong`], except for the console's "Failed to load
    /// resource" line of a refusal the test asked for: an answer of 4xx from a URL containing
    /// one of `refused_paths`, which the page shows as the server's `detail`.
    async fn assert_nothing_went_wrong_but_refusals_of(
        &mut self,
        origin: &str,
        refused_paths: &[&str],
    ) {
        let violations = self.evaluate("window.__cspViolations ?? []").await;
        assert_eq!(violations, json!([]), "CSP violations");
        let host = origin.trim_start_matches("http://");
        let mut problems = Vec::new();
        for event in &self.events {
            let params = &event["params"];
            match event["method"].as_str().unwrap_or_default() {
                "Runtime.exceptionThrown" => problems.push(format!("exception: {params}")),
                "Runtime.consoleAPICalled"
                    if matches!(
                        params["type"].as_str(),
                        Some("error" | "warning" | "assert")
                    ) =>
                {
                    problems.push(format!("console: {params}"))
                }
                "Log.entryAdded"
                    if matches!(params["entry"]["level"].as_str(), Some("error" | "warning")) =>
                {
                    let entry = &params["entry"];
                    let url = entry["url"].as_str().unwrap_or_default();
                    let asked_for = entry["source"] == "network"
                        && entry["text"]
                            .as_str()
                            .is_some_and(|text| text.contains("status of 4"))
                        && refused_paths.iter().any(|path| url.contains(path));
                    if !asked_for {
                        problems.push(format!("log: {params}"))
                    }
                }
                "Network.requestWillBeSent" => {
                    let url = params["request"]["url"].as_str().unwrap_or_default();
                    if !url.starts_with(&format!("{origin}/")) && url != "about:blank" {
                        problems.push(format!("request to another host: {url}"));
                    }
                }
                "Network.webSocketCreated" => {
                    let url = params["url"].as_str().unwrap_or_default();
                    if !url.starts_with(&format!("ws://{host}/")) {
                        problems.push(format!("WebSocket to another host: {url}"));
                    }
                }
                _ => {}
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// Sets the viewport: `mobile` also emulates a phone's touch screen.
    async fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile }),
        )
        .await;
        if mobile {
            self.call(
                "Emulation.setTouchEmulationEnabled",
                json!({ "enabled": true, "maxTouchPoints": 1 }),
            )
            .await;
        }
    }

    /// The centre of the element `selector` names, in CSS pixels of the viewport.
    async fn centre_of(&mut self, selector: &str) -> (f64, f64) {
        let centre = self
            .evaluate(&format!(
                "(() => {{ const box = document.querySelector({}).getBoundingClientRect(); \
                 return [box.x + box.width / 2, box.y + box.height / 2]; }})()",
                json!(selector)
            ))
            .await;
        (centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap())
    }

    /// Taps the element `selector` names with a finger.
    async fn tap(&mut self, selector: &str) {
        self.evaluate(&format!(
            "document.querySelector({}).scrollIntoView({{ block: 'center' }})",
            json!(selector)
        ))
        .await;
        let (x, y) = self.centre_of(selector).await;
        self.call(
            "Input.dispatchTouchEvent",
            json!({ "type": "touchStart", "touchPoints": [{ "x": x, "y": y }] }),
        )
        .await;
        self.call(
            "Input.dispatchTouchEvent",
            json!({ "type": "touchEnd", "touchPoints": [] }),
        )
        .await;
    }

    /// Swipes a finger across the element `selector` names, from its centre by `(dx, dy)`.
    async fn swipe(&mut self, selector: &str, dx: f64, dy: f64) {
        let (x, y) = self.centre_of(selector).await;
        self.call(
            "Input.dispatchTouchEvent",
            json!({ "type": "touchStart", "touchPoints": [{ "x": x, "y": y }] }),
        )
        .await;
        for step in 1..=4 {
            let fraction = f64::from(step) / 4.0;
            self.call(
                "Input.dispatchTouchEvent",
                json!({ "type": "touchMove", "touchPoints": [{ "x": x + dx * fraction, "y": y + dy * fraction }] }),
            )
            .await;
        }
        self.call(
            "Input.dispatchTouchEvent",
            json!({ "type": "touchEnd", "touchPoints": [] }),
        )
        .await;
    }

    /// The frames the page received on its WebSockets whose URL contains `url_part`, in order,
    /// as DevTools saw them arrive (not as the page's code handled them).
    async fn frames_received(&mut self, url_part: &str) -> Vec<Value> {
        // An answered command means every event before it has been read.
        self.evaluate("true").await;
        let sockets: Vec<&Value> = self
            .events
            .iter()
            .filter(|event| event["method"] == "Network.webSocketCreated")
            .filter(|event| {
                event["params"]["url"]
                    .as_str()
                    .is_some_and(|url| url.contains(url_part))
            })
            .map(|event| &event["params"]["requestId"])
            .collect();
        self.events
            .iter()
            .filter(|event| event["method"] == "Network.webSocketFrameReceived")
            .filter(|event| sockets.contains(&&event["params"]["requestId"]))
            .filter_map(|event| event["params"]["response"]["payloadData"].as_str())
            .map(|text| serde_json::from_str::<Value>(text).unwrap())
            .filter(|message| message["type"] == "frame")
            .map(|message| message["frame"].clone())
            .collect()
    }

    /// Runs axe-core in the page and returns its serious and critical violations, each as
    /// `rule: help (the elements)`.
    async fn serious_accessibility_violations(&mut self, axe: &str) -> Vec<String> {
        // DevTools evaluates axe's source as the console would, so the page's CSP, which admits
        // only this server's scripts, does not apply to it and the page need not change.
        self.evaluate(&format!("{axe};\ntrue")).await;
        let violations = self
            .evaluate(
                "axe.run(document).then((results) => results.violations\
                 .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')\
                 .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes\
                 .map((node) => node.target.join(' ')).join(', ')})`))",
            )
            .await;
        serde_json::from_value(violations).unwrap()
    }

    /// Saves a PNG of the viewport under the target directory and returns its path.
    async fn screenshot(&mut self, name: &str) -> std::path::PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let directory =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(SCREENSHOT_DIRECTORY);
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Takes a screenshot like [`Browser::screenshot`] and, when README's screenshots are being
    /// refreshed (`SNAKE_ARENA_README_SCREENSHOTS=1`), copies it into `docs/screenshots/`.
    async fn screenshot_for_readme(&mut self, name: &str) -> std::path::PathBuf {
        let path = self.screenshot(name).await;
        if std::env::var_os(README_SCREENSHOTS_VARIABLE).is_some() {
            let directory =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&directory).unwrap();
            std::fs::copy(&path, directory.join(format!("{name}.png"))).unwrap();
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(process) = &mut self.process {
            let _ = process.start_kill();
        }
        if let Some(profile) = &self.profile {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// axe-core's source, or `None` (after saying why) when `web/node_modules/` is not installed
/// and the browser tests may be skipped.
fn axe_source() -> Option<String> {
    match std::fs::read_to_string(AXE_PATH) {
        Ok(source) => Some(source),
        Err(error) => {
            let message =
                format!("axe-core is not installed ({AXE_PATH}: {error}); run `npm ci` in web/");
            if std::env::var_os("SNAKE_ARENA_REQUIRE_BROWSER").is_some() {
                panic!("{message}");
            }
            eprintln!("skipped: {message}");
            None
        }
    }
}

/// The tick of the games the browser plays: the server's default, the workshop frontend's.
const PLAYED_TICK_MS: u32 = 150;

/// Reads, from the page's first board, the cells drawn in the head's colour (`board.ts`'s
/// `#f6d743`), sampling each cell's centre, and the tick the page says it shows (`null` while the
/// one-game page is not there yet). It reads a copy, so the page's own canvas is never read back.
const DRAWN_HEAD: &str = "(() => {\
     if (document.getElementById('watch-tick') === null) return null;\
     const board = document.querySelector('canvas.board');\
     const copy = document.createElement('canvas');\
     copy.width = board.width;\
     copy.height = board.height;\
     const context = copy.getContext('2d', { willReadFrequently: true });\
     context.drawImage(board, 0, 0);\
     const cell = copy.width / 20;\
     const pixels = context.getImageData(0, 0, copy.width, copy.height).data;\
     const heads = [];\
     for (let y = 0; y < 20; y += 1) for (let x = 0; x < 20; x += 1) {\
       const offset = ((y * cell + cell / 2) * copy.width + x * cell + cell / 2) * 4;\
       if (pixels[offset] === 246 && pixels[offset + 1] === 215 && pixels[offset + 2] === 67) heads.push([x, y]);\
     }\
     return { tick: Number(document.getElementById('watch-tick').textContent), heads };\
   })()";

/// The next frame a test's own channel receives, as JSON, or `None` once the server closed it.
async fn next_frame(socket: &mut crate::live::Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(PAGE_STATE_LIMIT, socket.next())
            .await
            .expect("a frame within the limit");
        match message {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(message["type"], "frame", "{message}");
                return Some(message["frame"].clone());
            }
            Some(Ok(Message::Close(_))) | None => return None,
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("the channel failed: {error}"),
        }
    }
}

/// The id of `username`'s live game, from `GET /api/games/active`.
async fn live_game_of(context: &TestContext, username: &str) -> uuid::Uuid {
    let active = context.raw_get("/api/games/active", None).await;
    let game = active
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|game| game["username"] == username)
        .unwrap_or_else(|| panic!("{username} has no live game: {}", active.body));
    game["id"].as_str().unwrap().parse().unwrap()
}

/// The test's own spectator of a live game, through the generated client.
async fn watch(context: &TestContext, game: uuid::Uuid) -> crate::live::Socket {
    crate::live::socket_of(context.client().games_watch(&game).await.unwrap()).await
}

/// A game a fresh player started through the API and left alone until it hit the wall: its id,
/// once its final frame is out (and so it is recorded).
async fn finished_game(context: &TestContext) -> uuid::Uuid {
    let player = context.sign_up_fresh_player().await;
    let started = crate::live::start_game(&player, crate::common::types::GameMode::Walls).await;
    let mut spectator = watch(context, started.game_id).await;
    while let Some(frame) = next_frame(&mut spectator).await {
        if frame["over"] == true {
            break;
        }
    }
    started.game_id
}

/// The key that keeps a snake going round a square 3 cells in from the walls, if it must turn
/// now: W for up (so WASD is used too), arrow keys for the rest.
fn key_to_circle(frame: &Value) -> Option<(&'static str, &'static str, u32, Option<&'static str>)> {
    let head = &frame["snake"][0];
    let (x, y) = (head["x"].as_i64().unwrap(), head["y"].as_i64().unwrap());
    match frame["direction"].as_str().unwrap() {
        "up" if y <= 3 => Some(("ArrowLeft", "ArrowLeft", 37, None)),
        "left" if x <= 3 => Some(("ArrowDown", "ArrowDown", 40, None)),
        "down" if y >= 16 => Some(("ArrowRight", "ArrowRight", 39, None)),
        "right" if x >= 16 => Some(("w", "KeyW", 87, Some("w"))),
        _ => None,
    }
}

/// Sequence numbers, checked to follow each other without a gap; returns the first and last.
fn contiguous_sequences(frames: &[Value], what: &str) -> (i64, i64) {
    let sequences: Vec<i64> = frames
        .iter()
        .map(|frame| frame["sequence"].as_i64().unwrap())
        .collect();
    assert!(!sequences.is_empty(), "{what}: no frames");
    for pair in sequences.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "{what}: a frame is missing or repeated: {sequences:?}"
        );
    }
    (sequences[0], *sequences.last().unwrap())
}

/// Signs up through the form with the keyboard, as a new player does; returns the username.
async fn sign_up_through_the_form(browser: &mut Browser) -> String {
    let username = format!("web_{}", unique_suffix() % 1_000_000_000);
    browser.tab_to("signup-email").await;
    browser.type_text(&format!("{username}@example.com")).await;
    browser.press("Tab", "Tab", 9, None).await;
    browser.type_text(&username).await;
    browser.press("Tab", "Tab", 9, None).await;
    browser.type_text("correct horse battery").await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    browser
        .wait_for(
            "document.getElementById('start-game') !== null",
            "signing up",
        )
        .await;
    let signed_in = browser
        .evaluate("document.getElementById('signed-in-as').textContent")
        .await;
    assert_eq!(signed_in, format!("Signed in as {username}"));
    username
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_plays_to_game_over_from_the_keyboard_while_another_browser_watches_then_replays_the_verified_score()
 {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = PLAYED_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let origin = context.base_url().to_owned();
    let mut player = Browser::launch(&chromium).await;
    player.set_viewport(1280, 1100, false).await;
    player.navigate(&format!("{origin}/play")).await;
    let rule = player
        .evaluate("document.getElementById('signup-password-hint').textContent")
        .await;
    assert!(
        rule.as_str().unwrap().contains("8 to 128 characters"),
        "the password rule is stated before submitting: {rule}"
    );
    let username = sign_up_through_the_form(&mut player).await;
    // The watcher's browser context is ready before the game starts (on the start page, which
    // opens no channel), so that on a busy machine the game does not run into a wall before the
    // test can steer it.
    let mut watcher = player.open_in_new_context().await;
    watcher.set_viewport(1280, 900, false).await;
    watcher.navigate(&format!("{origin}/")).await;

    player.tab_to("start-game").await;
    player.press("Enter", "Enter", 13, Some("\r")).await;
    player
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Playing')",
            "starting the game",
        )
        .await;
    let game = live_game_of(&context, &username).await;
    let mut spectator = watch(&context, game).await;
    // Not waiting for the page: the test steers from the next frame on, and samples the
    // watcher's board once it is there.
    watcher
        .call(
            "Page.navigate",
            json!({ "url": format!("{origin}/watch/{game}") }),
        )
        .await;

    // The test steers from the frames its own channel receives: round a square for a while, then
    // straight on into a wall. Now and then it reads the head the watching page drew.
    const STEERED_TICKS: i64 = 40;
    let mut frames_by_tick = std::collections::BTreeMap::new();
    let mut drawn_heads = Vec::new();
    let final_frame = loop {
        let frame = next_frame(&mut spectator)
            .await
            .expect("the game ends with a final frame");
        let ticks = frame["ticks"].as_i64().unwrap();
        frames_by_tick.insert(ticks, frame.clone());
        if frame["over"] == true {
            break frame;
        }
        if ticks < STEERED_TICKS
            && let Some((key, code, key_code, text)) = key_to_circle(&frame)
        {
            player.press(key, code, key_code, text).await;
        }
        if ticks % 3 == 0 {
            let drawn = watcher.evaluate(DRAWN_HEAD).await;
            if !drawn.is_null() {
                drawn_heads.push(drawn);
            }
        }
        if ticks == 20 {
            player.screenshot_for_readme("desktop-play").await;
        }
    };
    player
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Game over')",
            "game over",
        )
        .await;
    let status = player
        .evaluate("document.getElementById('game-status').textContent")
        .await;
    let status = status.as_str().unwrap().to_owned();
    assert!(status.contains("hit a wall"), "{status}");
    assert!(status.contains("verified"), "{status}");
    let score = player
        .evaluate("document.getElementById('score').textContent")
        .await;
    let score = score.as_str().unwrap().to_owned();
    assert_eq!(score, final_frame["score"].to_string());

    // The watching browser drew the head of the frame of the tick it showed, every time.
    watcher
        .wait_for(
            "document.getElementById('watch-game-status').textContent.startsWith('Game over')",
            "the watcher seeing the game end",
        )
        .await;
    drawn_heads.push(watcher.evaluate(DRAWN_HEAD).await);
    let mut compared = 0;
    for drawn in &drawn_heads {
        let tick = drawn["tick"].as_i64().unwrap();
        if drawn["heads"] == json!([]) {
            assert_eq!(tick, 0, "a board with no head drawn: {drawn}");
            continue;
        }
        let frame = &frames_by_tick[&tick];
        let head = &frame["snake"][0];
        assert_eq!(
            drawn["heads"],
            json!([[head["x"], head["y"]]]),
            "the watcher's head at tick {tick}"
        );
        compared += 1;
    }
    assert!(
        compared >= 5,
        "only {compared} heads compared: {drawn_heads:?}"
    );
    watcher.screenshot("desktop-watch").await;

    // Frames received by the pages, as DevTools saw them: every tick's, none dropped.
    let ticks = final_frame["ticks"].as_i64().unwrap();
    let played = player.frames_received("/play?ticket=").await;
    let (first_played, last_played) = contiguous_sequences(&played, "the player's page");
    assert_eq!(last_played, final_frame["sequence"].as_i64().unwrap());
    let watched = watcher
        .frames_received(&format!("/games/live/{game}/watch"))
        .await;
    let (first_watched, last_watched) = contiguous_sequences(&watched, "the watcher's page");
    assert_eq!(last_watched, last_played);
    eprintln!(
        "frames at {PLAYED_TICK_MS} ms: {ticks} ticks played; the player's page received {} frames \
         (sequences {first_played} to {last_played}: the start frame and one per tick), the \
         watcher's page {} (from {first_watched}, when it joined), none missing",
        played.len(),
        watched.len()
    );
    if first_played == 0 {
        assert_eq!(played.len() as i64, ticks + 1);
    }

    // The leaderboard lists the score as verified, with its replay a keyboard press away.
    player.navigate(&format!("{origin}/leaderboard")).await;
    let row_of_player = format!(
        "[...document.querySelectorAll('#leaderboard tr.entry')].find((row) => \
         row.querySelector('.player').textContent === '{username}' && \
         row.querySelector('.score').textContent === '{score}' && \
         row.querySelector('.verified') !== null)"
    );
    player
        .wait_for(
            &format!("{row_of_player} !== undefined"),
            "the verified score on the leaderboard",
        )
        .await;
    player.screenshot_for_readme("desktop-leaderboard").await;
    player
        .evaluate(&format!(
            "{row_of_player}.querySelector('a.replay-link').focus()"
        ))
        .await;
    player.press("Enter", "Enter", 13, Some("\r")).await;
    player
        .wait_for(
            &format!(
                "document.getElementById('summary-score')?.textContent === '{score}' && \
                 document.getElementById('summary-player').textContent === '{username}'"
            ),
            "the replay's summary",
        )
        .await;
    assert_eq!(
        player.evaluate("location.pathname").await,
        format!("/replay/{game}")
    );
    let summary_ticks = player
        .evaluate("document.getElementById('summary-ticks').textContent")
        .await;
    assert!(
        summary_ticks
            .as_str()
            .unwrap()
            .starts_with(&format!("{ticks} ticks of {PLAYED_TICK_MS} ms")),
        "{summary_ticks}"
    );
    // The speed control is reached and changed from the keyboard: 1× down to 16×.
    player.tab_to("replay-speed").await;
    for _ in 0..4 {
        player.press("ArrowDown", "ArrowDown", 40, None).await;
    }
    assert_eq!(
        player
            .evaluate("document.getElementById('replay-speed').value")
            .await,
        "16"
    );
    player
        .wait_for(
            "document.getElementById('replay-status').textContent.startsWith('Replay over')",
            "the replay's end",
        )
        .await;
    assert_eq!(
        player
            .evaluate("document.getElementById('score').textContent")
            .await,
        score
    );
    assert_eq!(
        player
            .evaluate("document.getElementById('replay-tick').textContent")
            .await,
        ticks.to_string()
    );
    player.screenshot_for_readme("desktop-replay").await;
    let replayed = player.frames_received("/replay?speed=").await;
    let (first_replayed, last_replayed) = contiguous_sequences(&replayed, "the replay");
    assert_eq!((first_replayed, last_replayed), (0, last_played));
    for frame in &played {
        let sequence = frame["sequence"].as_i64().unwrap() as usize;
        assert_eq!(
            replayed[sequence]["snake"], frame["snake"],
            "the replay's frame {sequence} as played"
        );
        assert_eq!(replayed[sequence]["score"], frame["score"]);
    }

    player.assert_nothing_went_wrong(&origin).await;
    watcher.assert_nothing_went_wrong(&origin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_the_servers_detail_and_logging_out_ends_the_session() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start_with(|config| config.demo_bots = 0).await;
    let origin = context.base_url().to_owned();
    let player = context.sign_up_fresh_player().await;
    let mut browser = Browser::launch(&chromium).await;
    browser.navigate(&format!("{origin}/play")).await;

    browser.tab_to("login-email").await;
    browser.type_text(&player.email).await;
    browser.press("Tab", "Tab", 9, None).await;
    browser.type_text("not the password").await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    let refused = context
        .raw_post_json(
            "/api/auth/login",
            &json!({ "email": player.email, "password": "not the password" }),
            None,
        )
        .await;
    assert_eq!(refused.status, 401);
    let detail = refused.body["detail"].clone();
    browser
        .wait_for(
            &format!("document.getElementById('login-refusal').textContent === {detail}"),
            "the server's detail of a wrong password",
        )
        .await;

    browser
        .evaluate("document.getElementById('login-password').value = ''")
        .await;
    browser.tab_to("login-password").await;
    browser.type_text(&player.password).await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    browser
        .wait_for(
            "document.getElementById('signed-in-as') !== null",
            "logging in",
        )
        .await;
    let token = browser
        .evaluate("JSON.parse(localStorage.getItem('snake-arena-session')).token")
        .await;
    let token = token.as_str().unwrap().to_owned();
    assert_eq!(
        context.raw_get("/api/auth/me", Some(&token)).await.status,
        200
    );

    browser.tab_to("logout").await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    browser
        .wait_for(
            "document.getElementById('signed-in-as') === null && \
             document.getElementById('login-email') !== null && \
             localStorage.getItem('snake-arena-session') === null",
            "logging out",
        )
        .await;
    assert_eq!(
        context.raw_get("/api/auth/me", Some(&token)).await.status,
        401,
        "the token is revoked"
    );
    browser
        .assert_nothing_went_wrong_but_refusals_of(&origin, &["/api/auth/login"])
        .await;
}

/// Every page of the client, with what says it is ready: its name, its path and a JavaScript
/// expression that is `true` once it shows what it is for. `live` is a live game to watch,
/// `finished` a finished one to replay.
fn every_page(live: uuid::Uuid, finished: uuid::Uuid) -> Vec<(&'static str, String, String)> {
    let status_is = |id: &str, start: &str| {
        format!("document.getElementById('{id}')?.textContent.startsWith('{start}') === true")
    };
    vec![
        ("home", "/".to_owned(), "document.querySelector('.home-links') !== null".to_owned()),
        (
            "play",
            "/play".to_owned(),
            "document.getElementById('login-email') !== null".to_owned(),
        ),
        (
            "leaderboard",
            "/leaderboard".to_owned(),
            "/scores\\.$|^No scores/.test(document.getElementById('leaderboard-status').textContent)"
                .to_owned(),
        ),
        (
            "watch",
            "/watch".to_owned(),
            "document.querySelector('.live-game') !== null".to_owned(),
        ),
        ("watch-game", format!("/watch/{live}"), status_is("watch-game-status", "Live")),
        ("replay", format!("/replay/{finished}"), status_is("replay-status", "Replay over")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_no_serious_accessibility_violation_and_loads_nothing_from_elsewhere() {
    let Some(chromium) = chromium() else { return };
    let Some(axe) = axe_source() else { return };
    let context = TestContext::start().await;
    let origin = context.base_url().to_owned();
    let finished = finished_game(&context).await;
    let bot = context.raw_get("/api/games/active", None).await.body[0]["id"]
        .as_str()
        .expect("a demo bot's game")
        .parse()
        .unwrap();
    let mut browser = Browser::launch(&chromium).await;
    let mut violations = Vec::new();
    for (name, path, ready) in every_page(bot, finished) {
        browser.navigate(&format!("{origin}{path}")).await;
        browser.wait_for(&ready, &format!("the {name} page")).await;
        for violation in browser.serious_accessibility_violations(&axe).await {
            violations.push(format!("{path}: {violation}"));
        }
    }

    // A game the server does not have: the summary's refusal, in the server's words.
    let unknown = uuid::Uuid::new_v4();
    let refused = context
        .raw_get(&format!("/api/games/finished/{unknown}"), None)
        .await;
    assert_eq!(refused.status, 404);
    browser
        .navigate(&format!("{origin}/replay/{unknown}"))
        .await;
    browser
        .wait_for(
            &format!(
                "document.getElementById('replay-refusal').textContent === {}",
                refused.body["detail"]
            ),
            "the server's detail of an unknown game",
        )
        .await;
    for violation in browser.serious_accessibility_violations(&axe).await {
        violations.push(format!("/replay/{unknown}: {violation}"));
    }

    // Signed in, during a game.
    browser.navigate(&format!("{origin}/play")).await;
    sign_up_through_the_form(&mut browser).await;
    browser.tab_to("start-game").await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    browser
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Playing')",
            "starting the game",
        )
        .await;
    for violation in browser.serious_accessibility_violations(&axe).await {
        violations.push(format!("/play, playing: {violation}"));
    }
    assert!(violations.is_empty(), "{violations:#?}");

    // axe itself runs and sees the page: a button without a name is a critical violation.
    browser
        .evaluate("document.body.append(document.createElement('button'))")
        .await;
    let canary = browser.serious_accessibility_violations(&axe).await;
    assert!(
        canary
            .iter()
            .any(|violation| violation.starts_with("button-name:")),
        "axe missed a nameless button: {canary:?}"
    );
    browser
        .assert_nothing_went_wrong_but_refusals_of(&origin, &["/api/games/finished/"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_375_pixel_phone_without_scrolling_sideways() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start().await;
    let origin = context.base_url().to_owned();
    let finished = finished_game(&context).await;
    let bot = context.raw_get("/api/games/active", None).await.body[0]["id"]
        .as_str()
        .expect("a demo bot's game")
        .parse()
        .unwrap();
    let mut browser = Browser::launch(&chromium).await;
    browser.set_viewport(375, 812, true).await;
    for (name, path, ready) in every_page(bot, finished) {
        browser.navigate(&format!("{origin}{path}")).await;
        browser.wait_for(&ready, &format!("the {name} page")).await;
        let widths = browser
            .evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let shot = if name == "leaderboard" || name == "replay" {
            browser
                .screenshot_for_readme(&format!("phone-{name}"))
                .await
        } else {
            browser.screenshot(&format!("phone-{name}")).await
        };
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{path} scrolls sideways at 375 px: {widths} (see {})",
            shot.display()
        );
    }
    browser.assert_nothing_went_wrong(&origin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_touch_screen_tapping_the_buttons_and_swiping_the_board_steer_the_snake() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = PLAYED_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let origin = context.base_url().to_owned();
    let mut browser = Browser::launch(&chromium).await;
    browser.set_viewport(375, 812, true).await;
    browser.navigate(&format!("{origin}/play")).await;
    let username = sign_up_through_the_form(&mut browser).await;

    browser.tap("#start-game").await;
    browser
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Playing')",
            "starting the game with a tap",
        )
        .await;
    let game = live_game_of(&context, &username).await;
    let mut spectator = watch(&context, game).await;
    // The snake starts heading up: a tap on the left button turns it left, a swipe down on the
    // board turns it down; each shows in the server's frames.
    browser.tap(".turn-left").await;
    loop {
        let frame = next_frame(&mut spectator).await.expect("a frame");
        assert_ne!(
            frame["over"], true,
            "the game ended before the tap turned it: {frame}"
        );
        if frame["direction"] == "left" {
            break;
        }
    }
    browser.swipe("canvas.board", 0.0, 80.0).await;
    loop {
        let frame = next_frame(&mut spectator).await.expect("a frame");
        assert_ne!(
            frame["over"], true,
            "the game ended before the swipe turned it: {frame}"
        );
        if frame["direction"] == "down" {
            break;
        }
    }
    browser.screenshot_for_readme("phone-play").await;
    browser
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Game over')",
            "game over",
        )
        .await;
    let widths = browser
        .evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        .await;
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "{widths}");
    browser.assert_nothing_went_wrong(&origin).await;
}

/// What the page at `path` costs a first visit, in a browser context with nothing cached: the
/// requests it made, their bytes as sent and gzipped (by the browser's own `CompressionStream`,
/// since the server sends them uncompressed), and when it was first painted.
async fn first_visit(browser: &mut Browser, origin: &str, path: &str, ready: &str) -> Value {
    browser.navigate(&format!("{origin}{path}")).await;
    browser.wait_for(ready, &format!("loading {path}")).await;
    browser.evaluate("true").await;
    let urls: Vec<String> = browser
        .events
        .iter()
        .filter(|event| event["method"] == "Network.requestWillBeSent")
        .filter_map(|event| event["params"]["request"]["url"].as_str())
        .filter(|url| url.starts_with("http"))
        .map(str::to_owned)
        .collect();
    let measure = format!(
        "(async () => {{\
           const urls = {};\
           let bytes = 0, gzipped = 0;\
           for (const url of urls) {{\
             const body = new Uint8Array(await (await fetch(url, {{ cache: 'no-store' }})).arrayBuffer());\
             bytes += body.length;\
             const stream = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));\
             gzipped += (await new Response(stream).arrayBuffer()).byteLength;\
           }}\
           const paint = performance.getEntriesByName('first-contentful-paint')[0];\
           const navigation = performance.getEntriesByType('navigation')[0];\
           return {{ urls, bytes, gzipped,\
             firstContentfulPaintMs: paint ? Math.round(paint.startTime) : null,\
             domContentLoadedMs: Math.round(navigation.domContentLoadedEventEnd) }};\
         }})()",
        json!(urls)
    );
    browser.evaluate(&measure).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_page_is_measured_for_bytes_and_first_render() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start().await;
    let origin = context.base_url().to_owned();
    let first = Browser::launch(&chromium).await;
    // Each page in a fresh context, so nothing is cached from before.
    for (path, ready) in [
        ("/", "document.querySelector('.home-links') !== null"),
        ("/play", "document.getElementById('login-email') !== null"),
        (
            "/leaderboard",
            "/scores\\.$/.test(document.getElementById('leaderboard-status').textContent)",
        ),
    ] {
        let mut browser = first.open_in_new_context().await;
        let measured = first_visit(&mut browser, &origin, path, ready).await;
        eprintln!(
            "first visit of {path}: {} requests, {} bytes, {} gzipped; first contentful paint \
             {} ms, DOMContentLoaded {} ms after navigation start ({})",
            measured["urls"].as_array().unwrap().len(),
            measured["bytes"],
            measured["gzipped"],
            measured["firstContentfulPaintMs"],
            measured["domContentLoadedMs"],
            measured["urls"]
        );
        browser.assert_nothing_went_wrong(&origin).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_carry_the_policy_and_caching_they_need() {
    let context = TestContext::start().await;
    let http = reqwest::Client::new();
    let page = http
        .get(context.url("/watch/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["cache-control"], "no-cache");
    let body = page.text().await.unwrap();
    assert!(!body.contains("<script>"), "no inline script");
    let asset = body
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its script");
    let script = http.get(context.url(asset)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let missing = http
        .get(context.url("/assets/main-NOSUCHHASH.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let api = http.get(context.url("/api/nowhere")).send().await.unwrap();
    assert_eq!(api.status(), 404, "/api/... stays the API");
}
