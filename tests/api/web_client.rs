//! The web client at `/` in headless Chromium, used as a player uses it: sign up through the
//! form, start a game from the keyboard, steer it with the arrow keys until it hits a wall, then
//! find the verified score on the leaderboard page; and the pages at a phone's width. Chromium is
//! driven over the DevTools protocol (a WebSocket to `--remote-debugging-port`), which also
//! reports every console message, CSP violation and request, so the tests can require none to
//! fail and none to leave the server's host.
//!
//! Chromium is found, or the tests skipped, as in `browser.rs`.

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

/// A headless Chromium with one page, driven over the DevTools protocol.
struct Browser {
    process: tokio::process::Child,
    profile: std::path::PathBuf,
    socket: WebSocketStream<reqwest::Upgraded>,
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
        // Chromium writes the port it picked into the profile once it listens.
        let port_file = profile.join("DevToolsActivePort");
        let started = tokio::time::Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.lines().next().map(str::to_owned))
                .filter(|port| !port.is_empty())
            {
                break port;
            }
            assert!(
                started.elapsed() < BROWSER_START_LIMIT,
                "Chromium did not open its DevTools port"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let http = reqwest::Client::new();
        let targets: Value = http
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
            .replacen("ws://", "http://", 1);
        let key = base64::engine::general_purpose::STANDARD.encode(unique_suffix().to_be_bytes());
        let upgraded = http
            .get(page_url)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(upgraded.status(), reqwest::StatusCode::SWITCHING_PROTOCOLS);
        let socket =
            WebSocketStream::from_raw_socket(upgraded.upgrade().await.unwrap(), Role::Client, None)
                .await;
        let mut browser = Self {
            process,
            profile,
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
        let id = self.next_id;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(PAGE_STATE_LIMIT, self.socket.next())
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
            self.events.push(message);
        }
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
                    problems.push(format!("log: {params}"))
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

    /// Saves a PNG of the viewport under the target directory and returns its path.
    async fn screenshot(&mut self, name: &str) -> std::path::PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let directory = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-client");
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_signs_up_plays_a_walls_game_to_game_over_from_the_keyboard_and_finds_the_verified_score()
 {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = 60;
    })
    .await;
    let origin = context.base_url().to_owned();
    let mut browser = Browser::launch(&chromium).await;
    browser.navigate(&format!("{origin}/play")).await;

    let username = format!("web_{}", unique_suffix() % 1_000_000_000);
    let rule = browser
        .evaluate("document.getElementById('signup-password-hint').textContent")
        .await;
    assert!(
        rule.as_str().unwrap().contains("8 to 128 characters"),
        "the password rule is stated before submitting: {rule}"
    );
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

    browser.tab_to("start-game").await;
    browser.press("Enter", "Enter", 13, Some("\r")).await;
    browser
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Playing')",
            "starting the game",
        )
        .await;
    browser.press("ArrowUp", "ArrowUp", 38, None).await;
    browser
        .wait_for(
            "document.getElementById('game-status').textContent.startsWith('Game over')",
            "game over",
        )
        .await;
    let status = browser
        .evaluate("document.getElementById('game-status').textContent")
        .await;
    let status = status.as_str().unwrap().to_owned();
    assert!(status.contains("hit a wall"), "{status}");
    assert!(status.contains("verified"), "{status}");
    let score = browser
        .evaluate("document.getElementById('score').textContent")
        .await;
    let score = score.as_str().unwrap().to_owned();

    browser.navigate(&format!("{origin}/leaderboard")).await;
    let row_of_player = format!(
        "[...document.querySelectorAll('#leaderboard tr.entry')].some((row) => \
         row.querySelector('.player').textContent === '{username}' && \
         row.querySelector('.score').textContent === '{score}' && \
         row.querySelector('.verified') !== null)"
    );
    browser
        .wait_for(&row_of_player, "the verified score on the leaderboard")
        .await;
    browser.assert_nothing_went_wrong(&origin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_375_pixel_phone_without_scrolling_sideways() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start().await;
    let origin = context.base_url().to_owned();
    let mut browser = Browser::launch(&chromium).await;
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
    for page in ["", "play", "leaderboard", "watch", "replay/some-game"] {
        browser.navigate(&format!("{origin}/{page}")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let widths = browser
            .evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let name = if page.is_empty() { "home" } else { page };
        let name = name.replace('/', "-");
        let shot = browser.screenshot(&format!("phone-{name}")).await;
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "/{page} scrolls sideways at 375 px: {widths} (see {})",
            shot.display()
        );
    }
    browser.assert_nothing_went_wrong(&origin).await;
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
