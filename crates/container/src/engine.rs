//! Finding the engine and agreeing on an API version with it.
//!
//! The address comes from shoal's configuration, else `DOCKER_HOST` (as the docker CLI and most
//! tools read it, so a user's Podman or rootless Docker setup carries over), else Docker's standard
//! socket. Connecting asks the engine for its version on the *unversioned* `/version` path: a
//! request under a newer API version than the engine knows is refused by Docker Engine ("client
//! version 1.53 is too new"), and old or Podman engines speak older versions than this client. The
//! client then speaks the older of the two versions, as the docker CLI does.

use std::time::Duration;

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};

use crate::error::{AddressOrigin, EngineError};

/// Docker's standard socket, used when neither shoal's configuration nor `DOCKER_HOST` names one.
pub const DEFAULT_ADDRESS: &str = "unix:///var/run/docker.sock";

/// How long connecting waits for the engine's first answer: a socket whose daemon hangs should
/// fail `shoal up` quickly, not after the client's general timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an ordinary request (create, start, inspect, list) may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The timeout for requests that last as long as a container does (wait, logs): in effect none.
const NO_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A connection to a Docker-compatible engine (Docker Engine, or Podman's compatible service).
///
/// Cheap to clone: clones share one client. Every operation of this crate is a method on
/// it: images ([`Engine::ensure_image`]), containers ([`Engine::run`] and the rest), usage and
/// logs.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    address: String,
    origin: AddressOrigin,
    version: EngineVersion,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("address", &self.address)
            .field("origin", &self.origin)
            .field("version", &self.version)
            .finish()
    }
}

/// What the engine said it is, for shoal's start-up log and `shoal status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// The product, e.g. `Docker Engine` or `Podman Engine`.
    pub product: String,
    /// Its version, e.g. `20.10.24`.
    pub version: String,
    /// The API version both sides speak, e.g. `1.41`.
    pub api_version: String,
}

impl Engine {
    /// Connects to the engine at `configured` (a `unix:///path` address), else at `DOCKER_HOST`,
    /// else at [`DEFAULT_ADDRESS`], and checks that it answers.
    ///
    /// The error says which address was tried, where it came from and how to start an engine.
    pub async fn connect(configured: Option<&str>) -> Result<Engine, EngineError> {
        let docker_host = std::env::var("DOCKER_HOST").ok();
        let (address, origin) = resolve_address(configured, docker_host.as_deref());
        Engine::connect_to(address, origin).await
    }

    /// Connects to `address`, which came from `origin`.
    async fn connect_to(address: String, origin: AddressOrigin) -> Result<Engine, EngineError> {
        let unreachable = |source| EngineError::Unreachable {
            address: address.clone(),
            origin,
            source,
        };
        let endpoint = Endpoint::parse(&address, origin)?;
        let probe = endpoint
            .client(API_DEFAULT_VERSION, CONNECT_TIMEOUT)
            .map_err(unreachable)?
            .with_request_modifier(unversioned);
        let answer = probe.version().await.map_err(unreachable)?;
        let spoken = negotiate(answer.api_version.as_deref());
        let docker = endpoint
            .client(&spoken, REQUEST_TIMEOUT)
            .map_err(unreachable)?;
        let version = EngineVersion {
            product: product_name(&answer),
            version: answer.version.unwrap_or_default(),
            api_version: spoken.to_string(),
        };
        tracing::debug!(%address, %origin, ?version, "connected to the container engine");
        Ok(Engine {
            docker,
            address,
            origin,
            version,
        })
    }

    /// The address connected to, e.g. `unix:///var/run/docker.sock`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Where the address came from.
    pub fn origin(&self) -> AddressOrigin {
        self.origin
    }

    /// What the engine said it is.
    pub fn version(&self) -> &EngineVersion {
        &self.version
    }

    /// The client for ordinary requests.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// A client without a request timeout, for requests whose answer comes when a container
    /// ends (wait) or that stream for its whole life (logs). bollard's timeout covers the time to
    /// the response's headers; engines send those at once for these endpoints, but an engine
    /// that held them back would otherwise fail a long-lived container's wait after two minutes.
    pub(crate) fn unbounded(&self) -> Docker {
        self.docker.clone().with_timeout(NO_TIMEOUT)
    }

    /// A client whose requests may take `limit` longer than usual (a stop's grace period).
    pub(crate) fn with_extra_time(&self, limit: Duration) -> Docker {
        self.docker.clone().with_timeout(REQUEST_TIMEOUT + limit)
    }
}

/// The address to use and where it came from: `configured`, else `docker_host` (an empty
/// `DOCKER_HOST` counts as unset, as for the docker CLI), else [`DEFAULT_ADDRESS`].
pub(crate) fn resolve_address(
    configured: Option<&str>,
    docker_host: Option<&str>,
) -> (String, AddressOrigin) {
    let nonempty = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    if let Some(address) = nonempty(configured) {
        (address, AddressOrigin::Configured)
    } else if let Some(address) = nonempty(docker_host) {
        (address, AddressOrigin::DockerHost)
    } else {
        (DEFAULT_ADDRESS.to_owned(), AddressOrigin::Default)
    }
}

/// An address this client can speak to.
enum Endpoint<'a> {
    /// A unix socket path.
    Unix(&'a str),
    /// `tcp://host:port` or `http://host:port`, without TLS.
    Http(&'a str),
}

impl<'a> Endpoint<'a> {
    /// Reads `address`; an unknown scheme is [`EngineError::BadAddress`].
    fn parse(address: &'a str, origin: AddressOrigin) -> Result<Self, EngineError> {
        if let Some(path) = address.strip_prefix("unix://") {
            Ok(Endpoint::Unix(path))
        } else if address.starts_with("tcp://") || address.starts_with("http://") {
            Ok(Endpoint::Http(address))
        } else {
            Err(EngineError::BadAddress {
                address: address.to_owned(),
                origin,
            })
        }
    }

    /// A client speaking API `version` whose requests time out after `timeout`. Fails without
    /// connecting only when a unix socket file does not exist.
    fn client(
        &self,
        version: &ClientVersion,
        timeout: Duration,
    ) -> Result<Docker, bollard::errors::Error> {
        let secs = timeout.as_secs();
        match self {
            Endpoint::Unix(path) => Docker::connect_with_unix(path, secs, version),
            Endpoint::Http(address) => Docker::connect_with_http(address, secs, version),
        }
    }
}

/// Drops the `/v1.xx` prefix bollard puts on every path, so the request reaches the engine's
/// unversioned route, which every engine answers in its own current version.
fn unversioned(mut request: bollard::BollardRequest) -> bollard::BollardRequest {
    let uri = request.uri();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let stripped = strip_version_prefix(path_and_query);
    if stripped.len() != path_and_query.len() {
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = stripped.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(new_uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    request
}

/// `"/v1.53/version?x"` → `"/version?x"`; anything else unchanged.
fn strip_version_prefix(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (major, minor) = rest[..end].split_once('.').unwrap_or(("", ""));
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(major) && numeric(minor) && end < rest.len() {
        &rest[end..]
    } else {
        path
    }
}

/// The API version to speak: the engine's, unless this client's is older. An engine that did not
/// say gets this client's and will refuse what it does not know.
fn negotiate(server: Option<&str>) -> ClientVersion {
    let ours = ClientVersion {
        major_version: API_DEFAULT_VERSION.major_version,
        minor_version: API_DEFAULT_VERSION.minor_version,
    };
    let Some((major, minor)) = server.and_then(|v| v.split_once('.')) else {
        return ours;
    };
    let (Ok(major_version), Ok(minor_version)) = (major.parse(), minor.parse()) else {
        return ours;
    };
    let theirs = ClientVersion {
        major_version,
        minor_version,
    };
    if theirs < ours {
        theirs
    } else {
        ours
    }
}

/// `Podman Engine`, `Docker Engine - Community`, ...: the first component's name, except that
/// Docker calls that one just `Engine` and names its product in the platform (which Podman fills
/// with `linux/amd64/...`).
fn product_name(answer: &bollard::models::SystemVersion) -> String {
    let component = answer
        .components
        .as_ref()
        .and_then(|c| c.first())
        .map(|c| c.name.clone())
        .filter(|name| !name.is_empty());
    let platform = answer
        .platform
        .as_ref()
        .map(|p| p.name.clone())
        .filter(|name| !name.is_empty());
    match component.as_deref() {
        Some("Engine") | None => platform.unwrap_or_else(|| "Docker Engine".to_owned()),
        Some(name) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_beats_docker_host_beats_the_default() {
        let r = resolve_address(Some("unix:///a.sock"), Some("unix:///b.sock"));
        assert_eq!(r, ("unix:///a.sock".to_owned(), AddressOrigin::Configured));
        let r = resolve_address(None, Some("unix:///b.sock"));
        assert_eq!(r, ("unix:///b.sock".to_owned(), AddressOrigin::DockerHost));
        let r = resolve_address(Some(" "), Some(""));
        assert_eq!(r, (DEFAULT_ADDRESS.to_owned(), AddressOrigin::Default));
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_address() {
        let Err(e) = Endpoint::parse("ssh://me@host", AddressOrigin::DockerHost) else {
            panic!("ssh:// accepted");
        };
        let text = e.to_string();
        assert!(
            text.contains("\"ssh://me@host\" (from DOCKER_HOST)"),
            "{text}"
        );
    }

    #[test]
    fn version_prefixes_are_stripped_only_when_present() {
        assert_eq!(strip_version_prefix("/v1.53/version"), "/version");
        assert_eq!(strip_version_prefix("/v1.41/_ping?x=1"), "/_ping?x=1");
        assert_eq!(strip_version_prefix("/version"), "/version");
        assert_eq!(strip_version_prefix("/v1.53"), "/v1.53");
        assert_eq!(strip_version_prefix("/volumes/x"), "/volumes/x");
    }

    #[test]
    fn products_are_named_as_each_engine_does() {
        use bollard::models::{SystemVersion, SystemVersionComponents, SystemVersionPlatform};
        let answer = |component: &str, platform: &str| SystemVersion {
            components: Some(vec![SystemVersionComponents {
                name: component.to_owned(),
                ..Default::default()
            }]),
            platform: Some(SystemVersionPlatform {
                name: platform.to_owned(),
            }),
            ..Default::default()
        };
        let podman = answer("Podman Engine", "linux/amd64/debian-12");
        assert_eq!(product_name(&podman), "Podman Engine");
        let docker_ce = answer("Engine", "Docker Engine - Community");
        assert_eq!(product_name(&docker_ce), "Docker Engine - Community");
        assert_eq!(product_name(&answer("Engine", "")), "Docker Engine");
    }

    #[test]
    fn the_older_api_version_is_spoken() {
        let v = negotiate(Some("1.41"));
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let newer = format!("1.{}", API_DEFAULT_VERSION.minor_version + 5);
        let v = negotiate(Some(&newer));
        assert_eq!(v.minor_version, API_DEFAULT_VERSION.minor_version);
        let v = negotiate(Some("garbage"));
        assert_eq!(v.minor_version, API_DEFAULT_VERSION.minor_version);
    }
}
