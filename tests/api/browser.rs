//! The API used from a real browser on another origin, as the game's frontend uses it: headless
//! Chromium loads a page from a second loopback port, the page calls the API with `fetch`, and
//! writes its verdict into the DOM, which the test reads back with `--dump-dom`. A page from an
//! origin the server does not admit must be unable to read anything. The docs page is loaded the
//! same way and must render every operation with no request refused.
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it). Where it is missing the tests say so
//! and pass, unless `SNAKE_ARENA_REQUIRE_BROWSER` is set, as CI sets it, in which case they fail.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{TestContext, contract_operations};

/// Where Debian puts Chromium, and the names it may have on `PATH` elsewhere.
const CHROMIUM_CANDIDATES: &[&str] = &[
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
];

/// How long one page may take, in the browser's virtual time (which does not advance while
/// requests are pending), and in real time before the browser is killed.
const VIRTUAL_TIME_BUDGET_MS: u32 = 20_000;
const REAL_TIME_LIMIT: Duration = Duration::from_secs(90);

/// The browser to run, or `None` (after saying why) when the test may be skipped.
pub(crate) fn chromium() -> Option<String> {
    let from_environment = std::env::var("SNAKE_ARENA_CHROMIUM").ok();
    let found = from_environment.into_iter().chain(
        CHROMIUM_CANDIDATES
            .iter()
            .map(|candidate| candidate.to_string()),
    );
    for candidate in found {
        let runs = std::process::Command::new(&candidate)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success());
        if runs {
            return Some(candidate);
        }
    }
    let message = "Chromium is not installed (apt-get install chromium); the browser tests need it";
    if std::env::var_os("SNAKE_ARENA_REQUIRE_BROWSER").is_some() {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    None
}

/// Loads `url` in headless Chromium, runs its scripts, and returns the DOM it ends with, and what
/// the browser printed (its console messages among it).
async fn dump_dom(chromium: &str, url: &str) -> (String, String) {
    let profile = std::env::temp_dir().join(format!(
        "snake-arena-chromium-{}-{}",
        std::process::id(),
        crate::common::unique_suffix()
    ));
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"))
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(REAL_TIME_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("Chromium did not finish {url} in {REAL_TIME_LIMIT:?}"))
        .expect("Chromium starts");
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "Chromium failed on {url}: {stderr}"
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Serves `page` to every request on a new loopback port, as a frontend's dev server would;
/// returns its origin.
async fn serve_page(page: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut connection, _)) = listener.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match connection.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = connection.write_all(response.as_bytes()).await;
            });
        }
    });
    origin
}

/// The text of the page's `<pre id="verdict">`, parsed as the JSON the page wrote there.
fn verdict(dom: &str) -> serde_json::Value {
    let start = dom
        .find("<pre id=\"verdict\">")
        .unwrap_or_else(|| panic!("no verdict in {dom}"))
        + "<pre id=\"verdict\">".len();
    let end = start + dom[start..].find("</pre>").expect("a closed verdict");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("verdict {text:?}: {error}"))
}

/// A page that plays the frontend: every call of a player's session, then a refused login whose
/// error body it must be able to read.
fn frontend_page(api: &str) -> String {
    format!(
        r#"<!doctype html>
<html><body><pre id="verdict">pending</pre><script>
const api = "{api}";
async function call(method, path, body, token) {{
  const headers = {{}};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(api + path, {{
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  }});
  const text = await response.text();
  return {{
    status: response.status,
    body: text ? JSON.parse(text) : null,
    requestId: response.headers.get("x-request-id"),
  }};
}}
async function play() {{
  const suffix = Math.random().toString(36).slice(2, 10);
  const username = "browser_" + suffix;
  const email = "browser" + suffix + "@example.com";
  const password = "correct horse battery";
  const steps = {{}};
  const signup = await call("POST", "/api/auth/signup", {{ username, email, password }});
  steps.signup = [signup.status, signup.body.user.username === username];
  const login = await call("POST", "/api/auth/login", {{ email, password }});
  steps.login = [login.status, typeof login.body.token];
  const token = login.body.token;
  const submit = await call("POST", "/api/leaderboard", {{ score: 4321, mode: "walls" }}, token);
  steps.submit = [submit.status, submit.body.username === username];
  const board = await call("GET", "/api/leaderboard?mode=walls&limit=100");
  steps.leaderboard = [board.status,
    board.body.some((entry) => entry.username === username && entry.score === 4321)];
  const me = await call("GET", "/api/auth/me", undefined, token);
  steps.me = [me.status, me.body.username === username];
  const refused = await call("POST", "/api/auth/login", {{ email, password: "not the password" }});
  steps.refused = [refused.status, refused.body.code, refused.body.detail, !!refused.requestId];
  return steps;
}}
play().then(
  (steps) => {{ document.getElementById("verdict").textContent = JSON.stringify({{ steps }}); }},
  (error) => {{ document.getElementById("verdict").textContent = JSON.stringify({{ error: String(error) }}); }},
);
</script></body></html>"#
    )
}

/// A page on an origin the server does not admit: a simple read and a preflighted call, each of
/// which the browser must refuse to hand to the page.
fn foreign_page(api: &str) -> String {
    format!(
        r#"<!doctype html>
<html><body><pre id="verdict">pending</pre><script>
const api = "{api}";
async function attempt(request) {{
  try {{
    const response = await request();
    return "read " + response.status;
  }} catch (error) {{
    return "refused: " + error.name;
  }}
}}
async function probe() {{
  return {{
    read: await attempt(() => fetch(api + "/api/leaderboard")),
    login: await attempt(() => fetch(api + "/api/auth/login", {{
      method: "POST",
      headers: {{ "Content-Type": "application/json" }},
      body: JSON.stringify({{ email: "snakecharmer@example.com", password: "charmer-pass-123" }}),
    }})),
  }};
}}
probe().then((result) => {{ document.getElementById("verdict").textContent = JSON.stringify(result); }});
</script></body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_local_origin_plays_a_whole_session_and_reads_a_refusal() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start().await;
    let page = serve_page(frontend_page(context.base_url())).await;
    assert_ne!(page, context.base_url(), "the page is on another origin");

    let (dom, console) = dump_dom(&chromium, &format!("{page}/")).await;
    let verdict = verdict(&dom);
    let steps = &verdict["steps"];
    assert!(steps.is_object(), "the page failed: {verdict} {console}");
    assert_eq!(steps["signup"], serde_json::json!([201, true]), "{verdict}");
    assert_eq!(
        steps["login"],
        serde_json::json!([200, "string"]),
        "{verdict}"
    );
    assert_eq!(steps["submit"], serde_json::json!([201, true]), "{verdict}");
    assert_eq!(
        steps["leaderboard"],
        serde_json::json!([200, true]),
        "{verdict}"
    );
    assert_eq!(steps["me"], serde_json::json!([200, true]), "{verdict}");
    assert_eq!(steps["refused"][0], 401, "{verdict}");
    assert_eq!(steps["refused"][1], "invalid_credentials", "{verdict}");
    assert_eq!(
        steps["refused"][2], "email or password is incorrect",
        "the page reads the detail: {verdict}"
    );
    assert_eq!(steps["refused"][3], true, "the page reads X-Request-Id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_an_origin_the_server_does_not_admit_can_read_nothing() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start_with(|config| {
        config.cors_origins = vec!["https://snake.example.com".to_owned()];
    })
    .await;
    let page = serve_page(foreign_page(context.base_url())).await;
    let (dom, _) = dump_dom(&chromium, &format!("{page}/")).await;
    let verdict = verdict(&dom);
    assert_eq!(verdict["read"], "refused: TypeError", "{verdict}");
    assert_eq!(verdict["login"], "refused: TypeError", "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_every_operation_offline_with_nothing_refused() {
    let Some(chromium) = chromium() else { return };
    let context = TestContext::start().await;
    let (dom, browser_log) = dump_dom(&chromium, &context.url("/api/docs")).await;
    for operation in contract_operations() {
        assert!(
            dom.contains(&format!("-{}\"", operation.operation_id)),
            "Swagger UI did not render {}",
            operation.operation_id
        );
    }
    assert!(dom.contains("Authorize"), "no Authorize button");
    let console_problems: Vec<&str> = browser_log
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .filter(|line| {
            line.contains("violates")
                || line.contains("Refused")
                || line.contains("Failed")
                || line.contains("rror")
        })
        .collect();
    assert!(console_problems.is_empty(), "{console_problems:#?}");
}
