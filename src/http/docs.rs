//! The interactive API docs at `/api/docs`: Swagger UI rendering the document the server serves
//! at `/api/openapi.json`, with every file served from this binary so the page works offline.
//!
//! Swagger UI comes from the release archive the `utoipa-swagger-ui-vendored` crate ships;
//! `build.rs` extracts the files below into `OUT_DIR`. Like the document itself, these routes are
//! unpublished: they are tooling around the contract, not part of it.

use dropshot::{Path, RequestContext};
use http::header;

use crate::http::context::ServerState;
use crate::http::error::ApiError;

/// The docs page. Its policy allows only this server's own scripts and styles (Swagger UI sets
/// inline styles, and its icons are `data:` images) and no framing.
const PAGE: &str = include_str!("docs/index.html");
const PAGE_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A file of the docs page: its name under `/api/docs/`, content type and bytes.
struct DocsAsset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[DocsAsset] = &[
    DocsAsset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/swagger-ui-bundle.js")),
    },
    DocsAsset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/swagger-ui.css")),
    },
    DocsAsset {
        name: "favicon-32x32.png",
        content_type: "image/png",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/favicon-32x32.png")),
    },
    DocsAsset {
        name: "swagger-initializer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("docs/swagger-initializer.js"),
    },
];

/// The assets never change within one build, so browsers may keep them for a day.
const ASSET_CACHE_CONTROL: &str = "public, max-age=86400";

/// Registers the docs routes.
pub fn register(
    api: &mut dropshot::ApiDescription<ServerState>,
) -> Result<(), dropshot::ApiDescriptionRegisterError> {
    api.register(docs_page)?;
    api.register(docs_asset)
}

#[dropshot::endpoint {
    method = GET,
    path = "/api/docs",
    unpublished = true,
}]
async fn docs_page(
    _rqctx: RequestContext<ServerState>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    http::Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, PAGE_SECURITY_POLICY)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .body(bytes::Bytes::from_static(PAGE.as_bytes()).into())
        .map_err(|error| ApiError::internal(format!("cannot build the docs page: {error}")))
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct AssetName {
    asset: String,
}

#[dropshot::endpoint {
    method = GET,
    path = "/api/docs/{asset}",
    unpublished = true,
}]
async fn docs_asset(
    _rqctx: RequestContext<ServerState>,
    path: Path<AssetName>,
) -> Result<http::Response<dropshot::Body>, ApiError> {
    let name = path.into_inner().asset;
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or_else(|| ApiError::not_found(format!("there is no /api/docs/{name}")))?;
    http::Response::builder()
        .header(header::CONTENT_TYPE, asset.content_type)
        .header(header::CACHE_CONTROL, ASSET_CACHE_CONTROL)
        .body(bytes::Bytes::from_static(asset.bytes).into())
        .map_err(|error| ApiError::internal(format!("cannot build a docs response: {error}")))
}
