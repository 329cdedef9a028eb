//! Errors of the engine client. Each says what went wrong in the operator's terms and, where
//! there is one, what to do about it; the engine's own error stays attached as the source, so a
//! caller can still look at the status code or print the whole chain.

use std::fmt;

/// Where the engine address that [`crate::Engine::connect`] used came from, so an error can say
/// which knob to turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressOrigin {
    /// Given by the caller (shoal's `[runtime] engine` key).
    Configured,
    /// The `DOCKER_HOST` environment variable, as the docker CLI reads it.
    DockerHost,
    /// Neither was set: Docker's standard socket.
    Default,
}

impl fmt::Display for AddressOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressOrigin::Configured => "configured",
            AddressOrigin::DockerHost => "from DOCKER_HOST",
            AddressOrigin::Default => "the default; DOCKER_HOST is not set",
        })
    }
}

/// Why an engine operation failed.
///
/// The `Display` text is complete on its own (it includes the engine's message), because callers
/// such as the control plane's driver put it into one event line; the engine's error is also kept
/// as the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The address is not one the client can speak to (an unknown scheme such as `ssh://`).
    #[error(
        "container engine address {address:?} ({origin}) is not supported: use \
         unix:///path/to/socket (or tcp://host:port for an engine without TLS)"
    )]
    BadAddress {
        /// The address as given.
        address: String,
        /// Where it came from.
        origin: AddressOrigin,
    },

    /// Nothing answered at the address, or what answered is not a Docker-compatible engine.
    #[error(
        "cannot reach the container engine at {address} ({origin}): {}. Start it (Docker: \
         `dockerd`; Podman: `podman system service --time=0 unix:///run/podman/podman.sock`), \
         or set DOCKER_HOST to the socket it listens on",
        root_cause(.source)
    )]
    Unreachable {
        /// The address that was tried.
        address: String,
        /// Where it came from.
        origin: AddressOrigin,
        /// What the client saw (no socket, refused, timeout, ...).
        #[source]
        source: bollard::errors::Error,
    },

    /// The image is not on this machine and the pull policy forbids pulling it (`never`), or the
    /// engine was asked to run it without pulling first.
    #[error(
        "image {image} is not on this machine: build it (`docker build -t {image} .` in its \
         source directory) or pull it (`docker pull {image}`, or `pull = \"missing\"`)"
    )]
    ImageMissing {
        /// The image reference as given.
        image: String,
    },

    /// Pulling the image failed (unknown image, registry unreachable, no permission). An image
    /// meant to be built locally usually ends here too, so the text says how to build it.
    #[error(
        "cannot pull image {image}: {}. If it is built on this machine, build it first \
         (`docker build -t {image} .` in its source directory)",
        engine_message(.source)
    )]
    Pull {
        /// The image reference as given.
        image: String,
        /// The engine's error, often the registry's message.
        #[source]
        source: bollard::errors::Error,
    },

    /// The host port to publish the container's port on is taken.
    #[error(
        "port 127.0.0.1:{port} is already in use (another program or container listens on it): {}",
        engine_message(.source)
    )]
    PortInUse {
        /// The host port.
        port: u16,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },

    /// The container is gone (removed by someone else, or never existed).
    #[error("container {id} does not exist: {}", engine_message(.source))]
    NoSuchContainer {
        /// The id or name that was asked for.
        id: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },

    /// Any other failure, with what was being done and the engine's message.
    #[error("{action}: {}", engine_message(.source))]
    Engine {
        /// What was being done, e.g. `creating container web-1`.
        action: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
}

impl EngineError {
    /// An [`EngineError::Engine`] for `action`, or the more precise variant the engine's answer
    /// calls for (a 404 on a container is [`EngineError::NoSuchContainer`]).
    pub(crate) fn engine(action: impl Into<String>, source: bollard::errors::Error) -> Self {
        EngineError::Engine {
            action: action.into(),
            source,
        }
    }

    /// Maps an error of an operation on container `id`: a 404 means it does not exist.
    pub(crate) fn on_container(
        id: &str,
        action: impl Into<String>,
        source: bollard::errors::Error,
    ) -> Self {
        if status_code(&source) == Some(404) {
            EngineError::NoSuchContainer {
                id: id.to_owned(),
                source,
            }
        } else {
            EngineError::engine(action, source)
        }
    }
}

/// The HTTP status the engine answered with, if the error is an answer at all.
pub(crate) fn status_code(error: &bollard::errors::Error) -> Option<u16> {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's own message for an error answer, else the client error's text: bollard's
/// `Display` prefixes answers with "Docker responded with status code ...", which says nothing
/// to an operator.
pub(crate) fn engine_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => root_cause(other),
    }
}

/// The innermost error's text: for a refused connection that is the operating system's
/// "Connection refused (os error 111)" rather than hyper's "client error (Connect)".
pub(crate) fn root_cause(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::SocketNotFoundError(path) => format!("no socket at {path}"),
        bollard::errors::Error::RequestTimeoutError => "no answer in time".to_owned(),
        bollard::errors::Error::DockerResponseServerError { .. }
        | bollard::errors::Error::DockerStreamError { .. } => engine_message(error),
        _ => {
            let mut inner: &dyn std::error::Error = error;
            while let Some(next) = inner.source() {
                inner = next;
            }
            inner.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn engine_messages_are_shown_without_the_client_prefix() {
        let e = EngineError::engine("creating container web-1", answer(500, "disk full"));
        assert_eq!(e.to_string(), "creating container web-1: disk full");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_404_on_a_container_says_it_does_not_exist() {
        let e = EngineError::on_container("abc", "stopping", answer(404, "No such container: abc"));
        assert!(matches!(e, EngineError::NoSuchContainer { .. }), "{e:?}");
        let e = EngineError::on_container("abc", "stopping", answer(500, "boom"));
        assert!(matches!(e, EngineError::Engine { .. }), "{e:?}");
    }

    #[test]
    fn unreachable_names_the_address_and_what_to_do() {
        let e = EngineError::Unreachable {
            address: "unix:///nowhere.sock".to_owned(),
            origin: AddressOrigin::DockerHost,
            source: bollard::errors::Error::SocketNotFoundError("/nowhere.sock".to_owned()),
        };
        let text = e.to_string();
        assert!(
            text.contains("unix:///nowhere.sock (from DOCKER_HOST)"),
            "{text}"
        );
        assert!(text.contains("no socket at /nowhere.sock"), "{text}");
        assert!(text.contains("podman system service"), "{text}");
        assert!(text.contains("set DOCKER_HOST"), "{text}");
    }
}
