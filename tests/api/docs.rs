//! The interactive docs at `/api/docs`: a page whose every file this server serves (no CDN, so it
//! works offline), locked down by a Content-Security-Policy, and pointed at the served document.
//! The browser test loads it in Chromium; these tests check what it is made of.

use reqwest::StatusCode;

use crate::common::TestContext;

/// The same-origin paths the page's `src` and `href` attributes name.
fn referenced_paths(page: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in page.match_indices(attribute) {
            let rest = &page[start + attribute.len()..];
            let end = rest.find('"').expect("a closed attribute");
            paths.push(rest[..end].to_owned());
        }
    }
    paths
}

#[tokio::test]
async fn the_docs_page_loads_only_files_this_server_serves() {
    let context = TestContext::start().await;
    let response = context
        .raw()
        .get(context.url("/api/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(
        !policy.contains("script-src"),
        "scripts fall back to 'self': {policy}"
    );
    let page = response.text().await.unwrap();

    let paths = referenced_paths(&page);
    assert!(paths.len() >= 4, "{paths:?}");
    for path in &paths {
        assert!(path.starts_with("/api/docs/"), "{path} is not served here");
        let asset = context.raw().get(context.url(path)).send().await.unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        let content_type = asset.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = match path.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("png") => "image/png",
            other => panic!("unexpected asset kind {other:?}"),
        };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        assert!(asset.bytes().await.unwrap().len() > 100, "{path} is empty");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
}

#[tokio::test]
async fn swagger_ui_is_pointed_at_the_document_the_server_serves() {
    let context = TestContext::start().await;
    let initializer = context
        .raw()
        .get(context.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("url: \"/api/openapi.json\""),
        "{initializer}"
    );
    let document = context.raw_get("/api/openapi.json", None).await;
    assert_eq!(document.status, StatusCode::OK);
    assert!(document.body["paths"]["/api/auth/login"].is_object());
}

#[tokio::test]
async fn an_unknown_docs_file_is_a_404_with_the_contract_error_body() {
    let context = TestContext::start().await;
    let response = context.raw_get("/api/docs/swagger-ui.js.map", None).await;
    let detail = crate::common::assert_error(&response, StatusCode::NOT_FOUND, "not_found");
    assert!(detail.contains("swagger-ui.js.map"), "{detail}");
}
