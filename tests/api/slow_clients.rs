//! Slow and oversized clients, over raw TCP: headers or bodies sent too slowly are cut off, idle
//! connections are closed, connections beyond the cap wait for a free slot, and oversized URLs
//! and headers get a 4xx. Limits are lowered to a second where a test waits for one; every bound
//! a test asserts is many times the configured limit, so a busy machine cannot fail it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{RawResponse, TestContext, assert_error};

/// A generous bound on how long the server may take to cut off a client whose limit is a second.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(20);

async fn connect(context: &TestContext) -> TcpStream {
    let address = context
        .base_url()
        .strip_prefix("http://")
        .expect("an http base URL");
    TcpStream::connect(address)
        .await
        .expect("the server accepts TCP connections")
}

/// What the server sent until it closed the connection, or `None` if it was still open after
/// `within`. A reset counts as closed: the server is gone either way.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let reading = async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    };
    tokio::time::timeout(within, reading).await.ok()?;
    Some(received)
}

/// Reads one HTTP/1.1 response with a `Content-Length` body, leaving the connection open.
async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let head_end = loop {
        if let Some(position) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let read = stream
            .read(&mut buffer)
            .await
            .expect("the response is read");
        assert!(read > 0, "the connection closed mid-response: {received:?}");
        received.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head}"));
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |length| length.trim().parse().expect("a numeric length"));
    while received.len() < head_end + length {
        let read = stream.read(&mut buffer).await.expect("the body is read");
        assert!(read > 0, "the connection closed mid-body");
        received.extend_from_slice(&buffer[..read]);
    }
    let body = &received[head_end..head_end + length];
    RawResponse {
        status: StatusCode::from_u16(status).expect("a valid status"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    }
}

const HEALTH_REQUEST: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// The head of a login whose body, 60 bytes long, the test then sends slowly or not at all.
const SLOW_LOGIN_HEAD: &[u8] = b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
    Content-Type: application/json\r\nContent-Length: 60\r\n\r\n";

/// Writes `bytes` one at a time, `every` apart, until they run out or the server cuts the
/// connection off; returns how long that took and all the server sent meanwhile.
async fn dribble(
    stream: &mut TcpStream,
    bytes: impl Iterator<Item = u8>,
    every: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let dribbling = async {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    };
    let watching = async {
        let mut received = Vec::new();
        // A reset rather than a close is fine: it happens when the close races a written byte.
        let _ = tokio::time::timeout(CUT_OFF_WITHIN, reader.read_to_end(&mut received)).await;
        received
    };
    let ((), received) = tokio::join!(dribbling, watching);
    (started.elapsed(), received)
}

#[tokio::test]
async fn a_client_sending_headers_one_byte_at_a_time_slower_than_the_limit_is_cut_off() {
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    // A request line, then a header whose value never ends, a byte every 100 ms.
    let head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let endless_header = head.iter().copied().chain(std::iter::repeat(b'a'));
    let (held, received) = dribble(&mut stream, endless_header, Duration::from_millis(100)).await;
    assert!(held < CUT_OFF_WITHIN, "still connected after {held:?}");
    assert!(
        held >= Duration::from_millis(900),
        "cut off early, after {held:?}"
    );
    assert!(
        !String::from_utf8_lossy(&received).contains(" 200 "),
        "the slow request was answered: {}",
        String::from_utf8_lossy(&received)
    );
}

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_cut_off() {
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    let received = read_until_closed(&mut stream, CUT_OFF_WITHIN)
        .await
        .expect("a silent connection is closed");
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn a_client_that_stops_inside_the_http2_preface_is_cut_off() {
    // hyper waits for the whole 24-byte preface before it chooses HTTP/1 or HTTP/2, with no
    // time limit of its own: the connection's idle timeout is what ends this one.
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(
        read_until_closed(&mut stream, CUT_OFF_WITHIN)
            .await
            .is_some(),
        "a stalled preface holds its connection"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    // hyper never closes an idle HTTP/2 connection by itself; the idle timeout does. The client
    // sends the preface and an empty SETTINGS frame, then nothing.
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream, CUT_OFF_WITHIN)
        .await
        .expect("an idle HTTP/2 connection is closed");
    // The server spoke HTTP/2 before it closed: its first frame is its SETTINGS (type 4).
    assert_eq!(received.get(3), Some(&4), "{received:?}");
}

#[tokio::test]
async fn a_connection_opened_after_a_quiet_spell_longer_than_the_header_timeout_is_served() {
    // A connection's idle time counts from when it is accepted, not from when its slot freed up.
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut stream = connect(&context).await;
    stream.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let context = TestContext::start_with(|config| config.header_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    stream.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, StatusCode::OK);
    let received = read_until_closed(&mut stream, CUT_OFF_WITHIN)
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(received.is_empty(), "{received:?}");
}

/// Sends a login's headers and the first bytes of its 60-byte body, a byte every 100 ms.
async fn start_slow_login(stream: &mut TcpStream, body_bytes_sent: usize) {
    stream.write_all(SLOW_LOGIN_HEAD).await.unwrap();
    for byte in b"{\"email\":\"slowworm@example.com\""
        .iter()
        .take(body_bytes_sent)
    {
        stream.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_sending_its_body_slower_than_the_limit_gets_a_408_while_others_are_served() {
    let context = TestContext::start_with(|config| config.body_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    // Five bytes of sixty, then nothing: the body can never be complete in time.
    start_slow_login(&mut stream, 5).await;
    let health = context.raw_get("/api/health", None).await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "other clients are served meanwhile"
    );
    let response = tokio::time::timeout(CUT_OFF_WITHIN, read_response(&mut stream))
        .await
        .expect("the slow body is answered in bounded time");
    let detail = assert_error(&response, StatusCode::REQUEST_TIMEOUT, "request_timeout");
    assert!(detail.contains("1 seconds"), "{detail}");
    assert!(
        read_until_closed(&mut stream, CUT_OFF_WITHIN)
            .await
            .is_some(),
        "the connection is closed after the 408"
    );
}

#[tokio::test]
async fn a_body_that_keeps_trickling_is_cut_off_at_the_deadline_not_at_a_pause() {
    // A byte every 250 ms never pauses for a whole second, so only a deadline for the whole body
    // ends this request; the body would take 15 seconds at this pace.
    let context = TestContext::start_with(|config| config.body_timeout_seconds = 1).await;
    let mut stream = connect(&context).await;
    stream.write_all(SLOW_LOGIN_HEAD).await.unwrap();
    let spaces = std::iter::repeat_n(b' ', 60);
    let (held, received) = dribble(&mut stream, spaces, Duration::from_millis(250)).await;
    assert!(
        held < Duration::from_secs(12),
        "the trickling body was not cut off: held {held:?}"
    );
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.is_empty() || received.starts_with("HTTP/1.1 408 "),
        "{received}"
    );
}

#[tokio::test]
async fn a_body_over_the_size_limit_that_then_stalls_gets_a_408_in_bounded_time() {
    // Past the size limit Dropshot reads the rest of the body before it answers 413, so that
    // the client can read the answer; the deadline bounds that read too.
    let context = TestContext::start_with(|config| {
        config.body_timeout_seconds = 1;
        config.max_body_bytes = 256;
    })
    .await;
    let mut stream = connect(&context).await;
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
        )
        .await
        .unwrap();
    stream.write_all(&[b' '; 1000]).await.unwrap();
    let response = tokio::time::timeout(CUT_OFF_WITHIN, read_response(&mut stream))
        .await
        .expect("the stalled oversized body is answered in bounded time");
    assert_error(&response, StatusCode::REQUEST_TIMEOUT, "request_timeout");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_frees_up() {
    let context = TestContext::start_with(|config| {
        config.max_connections = 2;
        config.header_timeout_seconds = 600;
    })
    .await;
    let mut first = connect(&context).await;
    let mut second = connect(&context).await;
    for held in [&mut first, &mut second] {
        held.write_all(HEALTH_REQUEST).await.unwrap();
        assert_eq!(read_response(held).await.status, StatusCode::OK);
    }

    // The third connection is completed by the operating system, but the server does not take
    // it while both slots are held, so its request is not answered.
    let mut third = connect(&context).await;
    third.write_all(HEALTH_REQUEST).await.unwrap();
    let mut byte = [0_u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");

    drop(first);
    let response = tokio::time::timeout(CUT_OFF_WITHIN, read_response(&mut third))
        .await
        .expect("the waiting connection is served once a slot frees up");
    assert_eq!(response.status, StatusCode::OK);
    second.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut second).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_connection_gives_its_slot_to_a_waiting_one() {
    let context = TestContext::start_with(|config| {
        config.max_connections = 1;
        config.header_timeout_seconds = 1;
    })
    .await;
    let mut idle = connect(&context).await;
    idle.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut idle).await.status, StatusCode::OK);

    let mut waiting = connect(&context).await;
    waiting.write_all(HEALTH_REQUEST).await.unwrap();
    let response = tokio::time::timeout(CUT_OFF_WITHIN, read_response(&mut waiting))
        .await
        .expect("the idle connection is closed and the waiting one served");
    assert_eq!(response.status, StatusCode::OK);
}

/// Sends one raw request and returns everything the server sent before it closed the connection.
async fn send_raw(context: &TestContext, request: &[u8]) -> String {
    let mut stream = connect(context).await;
    // The server may answer and close before the whole request is written; that is fine.
    let _ = stream.write_all(request).await;
    let received = read_until_closed(&mut stream, CUT_OFF_WITHIN)
        .await
        .expect("an oversized request is answered and closed");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_url_over_8_kib_gets_a_414_with_the_error_body() {
    let context = TestContext::start().await;
    let response = context
        .raw_get(&format!("/api/health?pad={}", "a".repeat(10_000)), None)
        .await;
    let detail = assert_error(&response, StatusCode::URI_TOO_LONG, "uri_too_long");
    assert!(detail.contains("at most 8192"), "{detail}");
}

#[tokio::test]
async fn a_100_kb_url_gets_a_414_from_hyper_and_a_closed_connection() {
    let context = TestContext::start().await;
    let request = format!(
        "GET /api/health?pad={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "a".repeat(100_000)
    );
    let received = send_raw(&context, request.as_bytes()).await;
    assert!(received.starts_with("HTTP/1.1 414 "), "{received}");
}

#[tokio::test]
async fn a_100_kb_header_value_gets_a_431_with_the_error_body() {
    let context = TestContext::start().await;
    let response = context
        .raw()
        .get(context.url("/api/health"))
        .header("x-pad", "a".repeat(100_000))
        .send()
        .await
        .expect("the request is sent");
    let response = crate::common::read_raw(response).await;
    let detail = assert_error(
        &response,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
    assert!(detail.contains("at most 32768"), "{detail}");
}

#[tokio::test]
async fn a_1_mb_header_value_gets_a_431_from_hyper_and_a_closed_connection() {
    let context = TestContext::start().await;
    let request = format!(
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(1_000_000)
    );
    let received = send_raw(&context, request.as_bytes()).await;
    assert!(received.starts_with("HTTP/1.1 431 "), "{received}");
}
