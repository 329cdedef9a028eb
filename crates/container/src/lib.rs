//! A client of the Docker Engine API, the part of it a container driver needs: shoal runs a
//! service's instances as containers of an image the user already has, with everything else
//! (the gateway, health checks, autoscaling, rollouts, logs) unchanged.
//!
//! [`Engine::connect`] finds the engine (shoal's configuration, `DOCKER_HOST`, or Docker's
//! standard socket) and agrees on an API version; Podman's Docker-compatible service works the
//! same way, as only endpoints both engines serve are used. Then:
//!
//! - images: [`Engine::ensure_image`] under a [`Pull`] policy, with [`PullProgress`];
//! - containers: [`Engine::run`] from a [`ContainerSpec`] (a port published on loopback or the
//!   host network, bind mounts, CPU and memory limits, ulimits, labels), [`Engine::wait`],
//!   [`Engine::stop`], [`Engine::kill`], [`Engine::remove`];
//! - what they use and say: [`Engine::usage`] (a [`shoal_runtime::Usage`], so CPU utilisation is
//!   computed as for processes) and [`Engine::logs`];
//! - clean-up: [`Engine::remove_labelled`] removes what an earlier run left.
//!
//! Every failure is an [`EngineError`] whose text says what to do where there is something to do
//! (start the engine, build or pull the image, free the port).

#![warn(missing_docs)]

mod container;
mod engine;
mod error;
mod image;
mod logs;
mod spec;
mod stats;

pub use container::{ContainerId, ContainerInfo, ExitStatus};
pub use engine::{Engine, EngineVersion, DEFAULT_ADDRESS};
pub use error::{AddressOrigin, EngineError};
pub use image::{Pull, PullProgress};
pub use logs::LogStream;
pub use shoal_runtime::Usage;
pub use spec::{BindMount, ContainerSpec, Network, Ulimit};
