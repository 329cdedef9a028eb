//! The web dashboard: HTML, CSS and JavaScript written here and embedded in the binary (no npm
//! build, no CDN). It reads the admin API (`/v1/status`, `/v1/events`, `/v1/stream`) like any
//! other client, so it can never show what the API would not.
//!
//! The page is served with a Content-Security-Policy that allows only this origin: every script
//! and style is a file under `/assets/`, none is inline, and nothing is evaluated from strings.
//! Assets carry an `ETag` and `Cache-Control: no-cache`, so a browser revalidates them cheaply
//! and a new shoal binary is picked up on the next load without stale files.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The policy sent with the page: this origin only, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path under `/assets/` (`js/app.js`); the page itself is `index.html`.
    pub path: &'static str,
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// The file as written in `crates/dashboard/assets`.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the dashboard serves, so tests (and readers) can see the whole surface at once.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/stream.js", JS),
    asset!("js/format.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/services.js", JS),
    asset!("js/panels.js", JS),
    asset!("js/tier.js", JS),
];

/// Looks up an embedded file by its path under `/assets/` (or `index.html`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Routes serving the dashboard at `/` and its files under `/assets/`, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.ico", get(favicon))
        .route("/assets/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    let page = asset("index.html").expect("index.html is embedded");
    let mut response = serve(page, &headers);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn favicon(headers: HeaderMap) -> Response {
    serve(asset("favicon.svg").expect("favicon is embedded"), &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match asset(&path).filter(|a| a.path != "index.html") {
        Some(a) => serve(a, &headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no dashboard asset named {path:?}\n"),
        )
            .into_response(),
    }
}

/// The file, or `304 Not Modified` when the browser's copy (`If-None-Match`) is current.
fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let etag = etag(asset);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body,
    )
        .into_response()
}

/// A strong validator: a hash of the embedded bytes, computed once per file.
fn etag(asset: &'static Asset) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{:016x}\"", fnv1a(a.body)))
            .collect()
    });
    let i = ASSETS
        .iter()
        .position(|a| a.path == asset.path)
        .expect("every asset is in ASSETS");
    &tags[i]
}

/// FNV-1a, 64 bit: enough to tell two versions of a file apart, with no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
