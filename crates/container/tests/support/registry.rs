//! A registry of the test's own on loopback, serving one image through the Registry HTTP API
//! V2, so a pull (and its progress stream) runs for real where no registry is reachable. The
//! engine treats `127.0.0.0/8` registries as insecure, so plain HTTP does (it tries HTTPS first:
//! a TLS handshake is answered by closing the connection).

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A registry serving one image, `127.0.0.1:PORT/NAME:TAG`, until dropped.
pub struct Registry {
    port: u16,
    server: JoinHandle<()>,
    /// The sizes of the image's layers, in the manifest's order.
    pub layer_sizes: Vec<u64>,
}

/// What the registry answers with: path → (content type, body).
type Routes = HashMap<String, (&'static str, Vec<u8>)>;

impl Registry {
    /// Serves image `name:tag` made of `layers` (uncompressed tars) running `cmd`, on a task of
    /// the current runtime.
    pub async fn serve(name: &str, tag: &str, layers: Vec<Vec<u8>>, cmd: &[&str]) -> Registry {
        let layer_sizes = layers.iter().map(|l| l.len() as u64).collect();
        let routes = Arc::new(routes(name, tag, layers, cmd));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, routes.clone()));
            }
        });
        Registry {
            port,
            server,
            layer_sizes,
        }
    }

    /// The registry's host part of an image reference, `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The API's answers for the image: the version check, its manifest (by tag and by digest), its
/// config and its layers.
fn routes(name: &str, tag: &str, layers: Vec<Vec<u8>>, cmd: &[&str]) -> Routes {
    let layer_digests: Vec<String> = layers.iter().map(|l| digest(l)).collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": cmd },
        "rootfs": { "type": "layers", "diff_ids": layer_digests },
    });
    let config = serde_json::to_vec(&config).expect("config");
    let manifest_type = "application/vnd.docker.distribution.manifest.v2+json";
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": digest(&config),
        },
        // Declared gzip, sent plain: the engine sniffs the compression of what it receives.
        "layers": layers.iter().zip(&layer_digests).map(|(layer, digest)| serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": digest,
        })).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec(&manifest).expect("manifest");
    let blob = "application/octet-stream";
    let mut routes = Routes::new();
    routes.insert("/v2/".into(), ("application/json", b"{}".to_vec()));
    let by_digest = format!("/v2/{name}/manifests/{}", digest(&manifest));
    routes.insert(by_digest, (manifest_type, manifest.clone()));
    routes.insert(
        format!("/v2/{name}/manifests/{tag}"),
        (manifest_type, manifest),
    );
    routes.insert(
        format!("/v2/{name}/blobs/{}", digest(&config)),
        (blob, config),
    );
    for (layer, digest) in layers.into_iter().zip(layer_digests) {
        routes.insert(format!("/v2/{name}/blobs/{digest}"), (blob, layer));
    }
    routes
}

/// `sha256:` and the hex digest of `data`.
fn digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Answers one request on `stream` and closes it.
async fn answer(mut stream: TcpStream, routes: Arc<Routes>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        // 0x16 opens a TLS handshake: the engine's HTTPS attempt, refused by closing.
        if head == [0x16] || head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let reply = match routes.get(path) {
        Some((content_type, body)) => {
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Docker-Content-Digest: {}\r\nDocker-Distribution-API-Version: registry/2.0\r\n\
                 Connection: close\r\n\r\n",
                body.len(),
                digest(body)
            );
            let mut reply = header.into_bytes();
            if method != "HEAD" {
                reply.extend_from_slice(body);
            }
            reply
        }
        None => {
            let body = r#"{"errors":[{"code":"NAME_UNKNOWN","message":"not served here"}]}"#;
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
    };
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}
