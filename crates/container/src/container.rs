//! A container's life through the engine: create and start ([`Engine::run`]), wait for its end,
//! stop, kill, remove, and the clean-up of what an earlier shoal left ([`Engine::remove_labelled`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use bollard::errors::Error as ApiError;
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;

use crate::error::{engine_message, status_code, EngineError};
use crate::spec::{create_body, ContainerSpec, Network};
use crate::Engine;

/// The engine's id of a container (64 hex digits), as returned by [`Engine::run`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

impl ContainerId {
    /// An id (or name) the engine gave out earlier, e.g. one read back from a label listing.
    pub fn new(id: impl Into<String>) -> Self {
        ContainerId(id.into())
    }

    /// The whole id, as the API takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, as `docker ps` shows ids: enough for views and events.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a container ended, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code. A program killed by a signal is reported as 128 + the signal's number
    /// (137 for `SIGKILL`), like a shell reports it: the engine says nothing more precise.
    pub code: i64,
    /// The engine's error about the end, if it gave one (rare: the container could not be
    /// waited for).
    pub error: Option<String>,
}

impl ExitStatus {
    /// Whether the program exited with code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The signal that presumably ended the program: codes 129–159 are 128 + a signal number.
    /// A program that exited with such a code by itself cannot be told apart.
    pub fn signal(&self) -> Option<i32> {
        (129..=159)
            .contains(&self.code)
            .then(|| (self.code - 128) as i32)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.signal() {
            Some(signal) => write!(f, "exit code {} (signal {signal})", self.code)?,
            None => write!(f, "exit code {}", self.code)?,
        }
        if let Some(error) = &self.error {
            write!(f, ": {error}")?;
        }
        Ok(())
    }
}

/// What [`Engine::inspect`] tells of a container: enough to recognise shoal's own and to know
/// whether it still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Its id.
    pub id: ContainerId,
    /// Its name, without the engine's leading `/`.
    pub name: String,
    /// The image it was created from, as given at creation.
    pub image: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Whether it is running now.
    pub running: bool,
    /// Its exit code once it has ended.
    pub exit_code: Option<i64>,
}

impl Engine {
    /// Creates and starts a container from `spec` and returns its id.
    ///
    /// The image must be on the machine ([`Engine::ensure_image`]); a missing one is
    /// [`EngineError::ImageMissing`]. A taken host port is [`EngineError::PortInUse`]. A
    /// container that was created but could not start is removed again, so a failed start
    /// leaves nothing behind.
    pub async fn run(&self, spec: &ContainerSpec) -> Result<ContainerId, EngineError> {
        let id = self.create(spec).await?;
        if let Err(source) = self.docker().start_container(id.as_str(), None).await {
            if let Err(e) = self.remove(&id).await {
                tracing::warn!(container = %id.short(), "removing a container that did not start: {e}");
            }
            return Err(start_error(spec, &id, source));
        }
        Ok(id)
    }

    /// Creates the container without starting it.
    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, EngineError> {
        let options = spec.name.as_ref().map(|name| CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        });
        match self
            .docker()
            .create_container(options, create_body(spec))
            .await
        {
            Ok(created) => Ok(ContainerId(created.id)),
            Err(e) if is_missing_image(&e) => Err(EngineError::ImageMissing {
                image: spec.image.clone(),
            }),
            Err(e) => Err(EngineError::engine(
                format!("creating a container of {}", describe(spec)),
                e,
            )),
        }
    }

    /// Waits until the container has ended and returns how. Cancel-safe: dropping the future
    /// only closes its request, and a later call answers at once for a container that ended
    /// meanwhile (until it is removed).
    pub async fn wait(&self, id: &ContainerId) -> Result<ExitStatus, EngineError> {
        let docker = self.unbounded();
        let mut answers = docker.wait_container(id.as_str(), None);
        match answers.next().await {
            Some(Ok(answer)) => Ok(ExitStatus {
                code: answer.status_code,
                error: answer
                    .error
                    .and_then(|e| e.message)
                    .filter(|m| !m.is_empty()),
            }),
            // bollard reports a non-zero exit as an error; it is an answer here.
            Some(Err(ApiError::DockerContainerWaitError { error, code })) => Ok(ExitStatus {
                code,
                error: Some(error).filter(|m| !m.is_empty()),
            }),
            Some(Err(e)) => Err(EngineError::on_container(
                id.as_str(),
                "waiting for a container",
                e,
            )),
            // The engine closed the answer without a result: ask for the state instead.
            None => self.exit_from_state(id).await,
        }
    }

    /// The exit status from an inspection, for an engine that closed a wait without answering.
    /// A container still running then is an error: the wait ended, the container did not.
    async fn exit_from_state(&self, id: &ContainerId) -> Result<ExitStatus, EngineError> {
        let info = self.inspect(id).await?;
        match info.exit_code {
            Some(code) => Ok(ExitStatus { code, error: None }),
            None => Err(EngineError::engine(
                "waiting for a container",
                ApiError::DockerContainerWaitError {
                    error: "the engine ended the wait while the container runs".to_owned(),
                    code: -1,
                },
            )),
        }
    }

    /// Stops the container: the image's stop signal (`SIGTERM` unless it says otherwise), then
    /// `SIGKILL` after `grace` (rounded up to whole seconds, the API's unit). Returns once the
    /// container has ended; a container that had ended already is no error.
    pub async fn stop(&self, id: &ContainerId, grace: Duration) -> Result<(), EngineError> {
        let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        let options = StopContainerOptions {
            t: Some(i32::try_from(secs).unwrap_or(i32::MAX)),
            signal: None,
        };
        self.with_extra_time(grace)
            .stop_container(id.as_str(), Some(options))
            .await
            .map_err(|e| EngineError::on_container(id.as_str(), "stopping a container", e))
    }

    /// Kills the container's processes with `SIGKILL` at once. A container that is not running
    /// is no error.
    pub async fn kill(&self, id: &ContainerId) -> Result<(), EngineError> {
        match self
            .docker()
            .kill_container(id.as_str(), None::<KillContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if status_code(&e) == Some(409) => Ok(()),
            Err(e) => Err(EngineError::on_container(
                id.as_str(),
                "killing a container",
                e,
            )),
        }
    }

    /// Removes the container, killing it first if it still runs, with its anonymous volumes (a
    /// stateful service's data is in bind mounts, which stay). A container that is already gone,
    /// or being removed, is no error.
    pub async fn remove(&self, id: &ContainerId) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self
            .docker()
            .remove_container(id.as_str(), Some(options))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(EngineError::engine("removing a container", e)),
        }
    }

    /// What the engine knows of a container now.
    pub async fn inspect(&self, id: &ContainerId) -> Result<ContainerInfo, EngineError> {
        let answer = self
            .docker()
            .inspect_container(id.as_str(), None)
            .await
            .map_err(|e| EngineError::on_container(id.as_str(), "inspecting a container", e))?;
        let config = answer.config.unwrap_or_default();
        let state = answer.state.unwrap_or_default();
        let running = state.running.unwrap_or(false);
        Ok(ContainerInfo {
            id: ContainerId(answer.id.unwrap_or_else(|| id.0.clone())),
            name: answer
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: config.image.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            running,
            exit_code: state.exit_code.filter(|_| !running),
        })
    }

    /// The ids of every container, running or not, that carries label `key` with `value`.
    pub async fn list_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<ContainerId>, EngineError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![format!("{key}={value}")],
            )])),
            ..Default::default()
        };
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .map_err(|e| {
                EngineError::engine(format!("listing containers labelled {key}={value}"), e)
            })?;
        Ok(found
            .into_iter()
            .filter_map(|c| c.id.map(ContainerId))
            .collect())
    }

    /// Removes every container, running or not, that carries label `key` with `value`, and
    /// returns how many there were: a starting shoal removes what an earlier run of the same data
    /// directory left (after a SIGKILL or a crash).
    pub async fn remove_labelled(&self, key: &str, value: &str) -> Result<usize, EngineError> {
        let ids = self.list_labelled(key, value).await?;
        for id in &ids {
            self.remove(id).await?;
        }
        Ok(ids.len())
    }
}

/// The error for a container that was created but did not start.
fn start_error(spec: &ContainerSpec, id: &ContainerId, source: ApiError) -> EngineError {
    let message = engine_message(&source);
    if let Network::Publish { host_port, .. } = spec.network {
        if is_port_taken(&message) {
            return EngineError::PortInUse {
                port: host_port,
                source,
            };
        }
    }
    EngineError::on_container(
        id.as_str(),
        format!("starting a container of {}", describe(spec)),
        source,
    )
}

/// A 404 from create about the image (the other 404s name a network or a volume).
fn is_missing_image(error: &ApiError) -> bool {
    status_code(error) == Some(404) && engine_message(error).to_lowercase().contains("image")
}

/// Docker says "address already in use" when another program holds the port and "port is
/// already allocated" when another container does; Podman says the former.
fn is_port_taken(message: &str) -> bool {
    message.contains("address already in use") || message.contains("port is already allocated")
}

/// `taskboard:v2 named web-1`, or just the image for an unnamed container.
fn describe(spec: &ContainerSpec) -> String {
    match &spec.name {
        Some(name) => format!("{} named {name}", spec.image),
        None => spec.image.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_read_from_the_engines_codes() {
        let status = |code| ExitStatus { code, error: None };
        assert_eq!(status(137).signal(), Some(9));
        assert_eq!(status(143).signal(), Some(15));
        assert_eq!(status(3).signal(), None);
        assert_eq!(status(137).to_string(), "exit code 137 (signal 9)");
        assert_eq!(status(3).to_string(), "exit code 3");
        assert!(status(0).success());
    }

    #[test]
    fn taken_ports_are_recognised_in_both_engines_words() {
        let docker = "driver failed programming external connectivity on endpoint x: Error \
                      starting userland proxy: listen tcp4 127.0.0.1:8000: bind: address already in use";
        assert!(is_port_taken(docker));
        assert!(is_port_taken(
            "Bind for 127.0.0.1:8000 failed: port is already allocated"
        ));
        assert!(!is_port_taken("no such file or directory"));
    }

    #[test]
    fn a_port_conflict_names_the_port() {
        let mut spec = ContainerSpec::new("app:v1");
        spec.network = Network::Publish {
            container_port: 80,
            host_port: 41234,
        };
        let source = ApiError::DockerResponseServerError {
            status_code: 500,
            message: "listen tcp4 127.0.0.1:41234: bind: address already in use".to_owned(),
        };
        let e = start_error(&spec, &ContainerId::new("abc"), source);
        assert!(
            matches!(e, EngineError::PortInUse { port: 41234, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("127.0.0.1:41234 is already in use"),
            "{e}"
        );
    }

    #[test]
    fn short_ids_are_twelve_characters() {
        let id = ContainerId::new("0123456789abcdef0123");
        assert_eq!(id.short(), "0123456789ab");
        assert_eq!(ContainerId::new("abc").short(), "abc");
    }
}
