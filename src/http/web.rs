//! The web client at `/`: its page on every client-side route and its content-hashed assets under
//! `/assets/`, all embedded in the binary from the committed bundle (`web/dist/`, built by
//! `cargo xtask web`), so `cargo run` needs no Node and nothing is fetched from elsewhere.
//!
//! The page is answered on each route the client's router knows, so a reload or a shared link
//! lands on the right view; `/api/...` stays the API. Like the docs, these routes are
//! unpublished: they serve the API's client, they are not part of the contract.

use dropshot::{Path, RequestContext};
use http::header;

use crate::http::context::ServerState;
use crate::http::error::ApiError;

mod bundle {
    include!(concat!(env!("OUT_DIR"), "/web_bundle.rs"));
}

/// The page names its assets by content hash, so a new build is a new URL and the page itself
/// must be fetched again each time (`no-cache`: revalidate before use), while an asset may be
/// kept for a year and never revalidated.
const PAGE_CACHE_CONTROL: &str = "no-cache";
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The page's Content-Security-Policy: scripts, styles, images and fonts from this server only,
/// no inline script or style, no plugins, no framing; `connect-src` admits this server's own
/// API and its WebSocket channels (`ws:`/`wss:` on the page's own host, named explicitly because
/// browsers that follow CSP level 2 do not count a WebSocket to the same host as `'self'`).
fn page_security_policy(host: Option<&str>) -> String {
    let channels = host
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte))
        })
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{channels}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Registers the page's routes and the assets' route.
pub fn register(
    api: &mut dropshot::ApiDescription<ServerState>,
) -> Result<(), dropshot::ApiDescriptionRegisterError> {
    api.register(web_page_home)?;
    api.register(web_page_play)?;
    api.register(web_page_leaderboard)?;
    api.register(web_page_watch)?;
    api.register(web_page_watch_game)?;
    api.register(web_page_replay)?;
    api.register(web_asset)
}

/// The page, whatever client-side route asked for it.
fn page(rqctx: &RequestContext<ServerState>) -> Result<http::Response<dropshot::Body>, ApiError> {
    let host = rqctx
        .request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    http::Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, page_security_policy(host))
        .header(header::CACHE_CONTROL, PAGE_CACHE_CONTROL)
        .header(header::X_FRAME_OPTIONS, "DENY")
        .body(bytes::Bytes::from_static(bundle::WEB_INDEX).into())
        .map_err(|error| ApiError::internal(format!("cannot build the web page: {error}")))
}

#[dropshot::endpoint { method = GET, path = "/", unpublished = true }]
async fn web_page_home(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

#[dropshot::endpoint { method = GET, path = "/play", unpublished = true }]
async fn web_page_play(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

#[dropshot::endpoint { method = GET, path = "/leaderboard", unpublished = true }]
async fn web_page_leaderboard(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

#[dropshot::endpoint { method = GET, path = "/watch", unpublished = true }]
async fn web_page_watch(
    rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

/// A game's id in a client-side route; the page itself asks the API whether it exists.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct GameRoute {
    // Only Dropshot's router reads it (the segment must be there); the page reads the id itself.
    #[allow(dead_code)]
    game_id: String,
}

#[dropshot::endpoint { method = GET, path = "/watch/{game_id}", unpublished = true }]
async fn web_page_watch_game(
    rqctx: RequestContext<ServerState>,
    _path: Path<GameRoute>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

#[dropshot::endpoint { method = GET, path = "/replay/{game_id}", unpublished = true }]
async fn web_page_replay(
    rqctx: RequestContext<ServerState>,
    _path: Path<GameRoute>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    page(&rqctx)
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct AssetName {
    asset: String,
}

#[dropshot::endpoint { method = GET, path = "/assets/{asset}", unpublished = true }]
async fn web_asset(
    _rqctx: RequestContext<ServerState>,
    path: Path<AssetName>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    let name = path.into_inner().asset;
    let (_, content_type, bytes) = bundle::WEB_ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or_else(|| ApiError::not_found(format!("there is no /assets/{name}")))?;
    http::Response::builder()
        .header(header::CONTENT_TYPE, *content_type)
        .header(header::CACHE_CONTROL, ASSET_CACHE_CONTROL)
        .body(bytes::Bytes::from_static(bytes).into())
        .map_err(|error| ApiError::internal(format!("cannot build a web asset response: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_admits_channels_on_its_own_host_only_and_never_inline_code() {
        let policy = page_security_policy(Some("127.0.0.1:8000"));
        assert!(policy.contains("connect-src 'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000;"));
        assert!(policy.starts_with("default-src 'self';"));
        assert!(!policy.contains("unsafe-inline"));
        let forged = page_security_policy(Some("evil.example; script-src *"));
        assert!(forged.contains("connect-src 'self';"), "{forged}");
        assert!(!forged.contains("evil"));
    }

    #[test]
    fn the_embedded_page_names_only_embedded_assets() {
        let page = std::str::from_utf8(bundle::WEB_INDEX).unwrap();
        for (name, _, _) in bundle::WEB_ASSETS {
            assert!(page.contains(&format!("/assets/{name}\"")), "{name}");
        }
    }
}
