//! What one container is created from: the engine-neutral shape a driver fills from a revision's
//! template, and its translation into the Engine API's create body.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding, ResourcesUlimits,
};

/// Everything [`crate::Engine::run`] needs to create and start a container.
///
/// Fields left at their defaults take the image's own settings (entrypoint, command, working
/// directory) or none at all (limits, mounts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSpec {
    /// The container's name (shoal uses one per instance, so `docker ps` reads well); `None` lets
    /// the engine pick one. A name already taken is an error.
    pub name: Option<String>,
    /// The image reference, e.g. `taskboard:v2`. It must be on the machine
    /// ([`crate::Engine::ensure_image`]).
    pub image: String,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command (the arguments after the entrypoint).
    pub cmd: Option<Vec<String>>,
    /// Environment variables, on top of the image's.
    pub env: Vec<(String, String)>,
    /// The working directory inside the container.
    pub workdir: Option<String>,
    /// Labels to find the container by later: shoal's data dir, service and instance, so a
    /// starting shoal can remove what an earlier run left ([`crate::Engine::remove_labelled`]).
    pub labels: BTreeMap<String, String>,
    /// How the container is reached.
    pub network: Network,
    /// Host directories mounted into the container (a stateful service's volumes).
    pub mounts: Vec<BindMount>,
    /// CPU limit in cores (0.5 = half a core), enforced by the engine as a CFS quota.
    pub cpu: Option<f64>,
    /// Memory limit in bytes; no swap is granted on top, as for processes.
    pub memory: Option<u64>,
    /// Resource limits (`nofile`, `nproc`, ...) set explicitly rather than inherited from the
    /// engine's defaults, which some sandboxes refuse.
    pub ulimits: Vec<Ulimit>,
}

impl ContainerSpec {
    /// A spec that runs `image` as it is, on the engine's default bridge without published ports.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            ..Default::default()
        }
    }
}

/// How a container's port is reached from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The engine's default bridge with nothing published: for containers nothing connects to.
    #[default]
    Bridge,
    /// The default bridge, with `container_port` published on `127.0.0.1:host_port`, so the
    /// gateway reaches the container as it reaches a local process and nothing else does.
    Publish {
        /// The port the program in the container listens on.
        container_port: u16,
        /// The loopback port it is published on.
        host_port: u16,
    },
    /// The host's network: the program binds host ports itself (told which through its
    /// environment), with no proxy or NAT in between.
    Host,
}

/// A host directory mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// The directory on the host; it must exist.
    pub host: PathBuf,
    /// Where it appears in the container (an absolute path).
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// One resource limit (`setrlimit`) of the container's processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// The limit's name as the engine knows it: `nofile`, `nproc`, `core`, ...
    pub name: String,
    /// The soft limit: what the processes get.
    pub soft: u64,
    /// The hard limit: how far they may raise it.
    pub hard: u64,
}

impl Ulimit {
    /// Open file descriptors.
    pub fn nofile(soft: u64, hard: u64) -> Self {
        Ulimit {
            name: "nofile".to_owned(),
            soft,
            hard,
        }
    }

    /// Processes (threads) of the user.
    pub fn nproc(soft: u64, hard: u64) -> Self {
        Ulimit {
            name: "nproc".to_owned(),
            soft,
            hard,
        }
    }
}

/// The Engine API's create body for `spec`.
pub(crate) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let (exposed_ports, port_bindings, network_mode) = match spec.network {
        Network::Bridge => (None, None, None),
        Network::Host => (None, None, Some("host".to_owned())),
        Network::Publish {
            container_port,
            host_port,
        } => {
            let key = format!("{container_port}/tcp");
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(host_port.to_string()),
            };
            let bindings = HashMap::from([(key.clone(), Some(vec![binding]))]);
            (Some(vec![key]), Some(bindings), None)
        }
    };
    let host_config = HostConfig {
        network_mode,
        port_bindings,
        mounts: Some(spec.mounts.iter().map(mount).collect()).filter(|m: &Vec<_>| !m.is_empty()),
        nano_cpus: spec.cpu.map(nano_cpus),
        memory: spec.memory.map(saturating_i64),
        memory_swap: spec.memory.map(saturating_i64),
        ulimits: Some(spec.ulimits.iter().map(ulimit).collect()).filter(|u: &Vec<_>| !u.is_empty()),
        auto_remove: Some(false),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: spec.workdir.clone(),
        labels: Some(spec.labels.clone().into_iter().collect()),
        exposed_ports,
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Cores as the API's billionths of a CPU (at least 1, so a tiny limit stays a limit).
fn nano_cpus(cores: f64) -> i64 {
    ((cores * 1e9).round() as i64).max(1)
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn mount(m: &BindMount) -> Mount {
    Mount {
        target: Some(m.container.clone()),
        source: Some(m.host.to_string_lossy().into_owned()),
        typ: Some(MountType::BIND),
        read_only: Some(m.read_only),
        ..Default::default()
    }
}

fn ulimit(u: &Ulimit) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(u.name.clone()),
        soft: Some(saturating_i64(u.soft)),
        hard: Some(saturating_i64(u.hard)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_port_binds_loopback_only() {
        let mut spec = ContainerSpec::new("app:v1");
        spec.network = Network::Publish {
            container_port: 8000,
            host_port: 41000,
        };
        let body = create_body(&spec);
        assert_eq!(body.exposed_ports, Some(vec!["8000/tcp".to_owned()]));
        let host = body.host_config.unwrap();
        let bindings = host.port_bindings.unwrap();
        let binding = &bindings["8000/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("41000"));
        assert_eq!(host.network_mode, None);
        assert_eq!(host.auto_remove, Some(false));
    }

    #[test]
    fn limits_env_mounts_and_ulimits_are_translated() {
        let mut spec = ContainerSpec::new("app:v1");
        spec.network = Network::Host;
        spec.cpu = Some(0.5);
        spec.memory = Some(64 << 20);
        spec.env = vec![("PORT".to_owned(), "8000".to_owned())];
        spec.mounts = vec![BindMount {
            host: PathBuf::from("/srv/data"),
            container: "/data".to_owned(),
            read_only: false,
        }];
        spec.ulimits = vec![Ulimit::nofile(1024, 4096)];
        let body = create_body(&spec);
        assert_eq!(body.env, Some(vec!["PORT=8000".to_owned()]));
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("host"));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(64 << 20));
        let mount = &host.mounts.unwrap()[0];
        assert_eq!(mount.source.as_deref(), Some("/srv/data"));
        assert_eq!(mount.typ, Some(MountType::BIND));
        let ulimit = &host.ulimits.unwrap()[0];
        assert_eq!((ulimit.soft, ulimit.hard), (Some(1024), Some(4096)));
    }

    #[test]
    fn defaults_leave_the_image_in_charge() {
        let body = create_body(&ContainerSpec::new("app:v1"));
        assert_eq!(
            (body.entrypoint, body.cmd, body.working_dir),
            (None, None, None)
        );
        let host = body.host_config.unwrap();
        assert_eq!(
            (host.mounts, host.ulimits, host.nano_cpus),
            (None, None, None)
        );
    }
}
