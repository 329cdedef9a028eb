//! The dashboard's files: served with the right types and headers, and self-contained (the page
//! references only embedded files, nothing inline that the CSP would block, no string eval).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::*;

async fn get(path: &str, if_none_match: Option<&str>) -> axum::response::Response {
    let app: Router = router();
    let mut req = Request::get(path);
    if let Some(tag) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

fn text(asset: &str) -> &'static str {
    std::str::from_utf8(super::asset(asset).unwrap().body).unwrap()
}

fn header_of(resp: &axum::response::Response, name: header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn page_is_html_with_a_same_origin_policy() {
    let resp = get("/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = header_of(&resp, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header_of(&resp, header::CACHE_CONTROL), "no-cache");
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&body[..], asset("index.html").unwrap().body);
}

#[tokio::test]
async fn every_asset_is_served_with_its_type() {
    let expected = [
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("js/stream.js", "text/javascript; charset=utf-8"),
        ("js/charts.js", "text/javascript; charset=utf-8"),
        ("js/services.js", "text/javascript; charset=utf-8"),
        ("js/panels.js", "text/javascript; charset=utf-8"),
        ("js/format.js", "text/javascript; charset=utf-8"),
        ("js/tier.js", "text/javascript; charset=utf-8"),
    ];
    assert_eq!(
        expected.len() + 1,
        ASSETS.len(),
        "a new asset needs a line here"
    );
    for (path, content_type) in expected {
        let resp = get(&format!("/assets/{path}"), None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&resp, header::CONTENT_TYPE),
            content_type,
            "{path}"
        );
        assert_eq!(header_of(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header_of(&resp, header::CACHE_CONTROL), "no-cache");
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], asset(path).unwrap().body, "{path}");
    }
    let resp = get("/favicon.ico", None).await;
    assert_eq!(header_of(&resp, header::CONTENT_TYPE), "image/svg+xml");
}

#[tokio::test]
async fn revalidation_answers_not_modified() {
    let resp = get("/assets/app.css", None).await;
    let tag = header_of(&resp, header::ETAG);
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    let again = get("/assets/app.css", Some(&tag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&again, header::ETAG), tag);
    let other = get("/assets/js/app.js", Some(&tag)).await;
    assert_eq!(other.status(), StatusCode::OK, "each file has its own tag");
}

#[tokio::test]
async fn unknown_assets_are_not_found() {
    for path in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/../Cargo.toml",
        "/assets/js",
    ] {
        let resp = get(path, None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// Every `src="…"` and `href="…"` value in a document.
fn references(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn page_references_only_embedded_files() {
    let html = text("index.html");
    let refs = references(html);
    assert!(refs.contains(&"/assets/app.css"), "{refs:?}");
    assert!(refs.contains(&"/assets/js/app.js"), "{refs:?}");
    for r in refs {
        // Links to the page itself and to the API are same-origin; scripts, styles and images
        // must be embedded files.
        if ["/", "#", "/v1", "/metrics"].contains(&r) {
            continue;
        }
        let path = r
            .strip_prefix("/assets/")
            .unwrap_or_else(|| panic!("{r} is not under /assets/"));
        assert!(asset(path).is_some(), "{r} is not embedded");
    }
    for needle in ["http://", "https://", "//cdn", "@import", "fonts.g"] {
        assert!(!html.contains(needle), "index.html mentions {needle}");
        assert!(
            !text("app.css").contains(needle),
            "app.css mentions {needle}"
        );
    }
}

#[test]
fn nothing_inline_that_the_policy_would_block() {
    let html = text("index.html");
    // Every <script> has a src; no style attributes, <style> blocks or on* handlers.
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains("src=\"/assets/"), "inline script: {tag}");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style=\""), "inline style attribute");
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " oninput=",
    ] {
        assert!(!html.contains(handler), "inline handler {handler}");
    }
    assert!(!text("app.css").contains("url("), "app.css loads nothing");
}

#[test]
fn scripts_are_modules_that_import_only_embedded_files() {
    for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        let src = std::str::from_utf8(asset.body).unwrap();
        for forbidden in [
            "eval(",
            "new Function",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "setAttribute(\"style\"",
        ] {
            assert!(!src.contains(forbidden), "{} uses {forbidden}", asset.path);
        }
        for line in src.lines().filter(|l| l.starts_with("import ")) {
            let from = line
                .rsplit_once("from \"./")
                .map(|(_, rest)| rest.trim_end_matches("\";"))
                .unwrap_or_else(|| panic!("{}: import not relative: {line}", asset.path));
            assert!(
                super::asset(&format!("js/{from}")).is_some(),
                "{}: imports {from}, which is not embedded",
                asset.path
            );
        }
        assert!(
            src.lines().count() < 800,
            "{} is too long to read; split it",
            asset.path
        );
    }
}
