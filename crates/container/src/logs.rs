//! A container's output, read from the engine from its first byte to its end, so shoal can write
//! it into the same rotated per-instance log files as a process's and `shoal logs` reads both
//! alike.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use crate::container::ContainerId;
use crate::error::EngineError;
use crate::Engine;

/// Which of the container's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output (also a TTY's combined output).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Engine {
    /// Feeds the container's output to `sink` as it comes, from the start, and returns when the
    /// container has ended and all of it has been read (at once for a container that ended
    /// already).
    ///
    /// Chunks are as the engine frames them: with Docker's `json-file` and `local` log drivers
    /// one line each, newline included, but a long line may come in pieces and a caller that
    /// needs lines should join them. Dropping the future stops the reading; calling again reads
    /// from the start again.
    pub async fn logs(
        &self,
        id: &ContainerId,
        mut sink: impl FnMut(LogStream, &[u8]),
    ) -> Result<(), EngineError> {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let docker = self.unbounded();
        let mut chunks = docker.logs(id.as_str(), Some(options));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                EngineError::on_container(id.as_str(), "reading a container's output", e)
            })?;
            match chunk {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    sink(LogStream::Stdout, &message)
                }
                LogOutput::StdErr { message } => sink(LogStream::Stderr, &message),
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok(())
    }
}
