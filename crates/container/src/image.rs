//! Making sure an instance's image is on the machine before its container is created, by the
//! service's pull policy, with progress while a pull runs (a large image takes minutes, and a
//! silent `shoal up` looks hung).

use std::collections::HashMap;

use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use crate::error::{status_code, EngineError};
use crate::Engine;

/// When to pull an image: the spec's `pull` key, with Compose's and Kubernetes' meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pull {
    /// Pull only when the image is not on the machine (the default: a moving tag is pulled once).
    #[default]
    Missing,
    /// Pull every time, so a moving tag (`:latest`) is brought up to date on each start.
    Always,
    /// Never pull: the image is built on this machine, and a missing one is an error that says so.
    Never,
}

/// How far a pull has got, summed over the image's layers, as the engine reports it. Handed to
/// [`Engine::ensure_image`]'s callback after each line of the engine's progress stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullProgress {
    /// The engine's latest status line, e.g. `Downloading` or `Pulling from library/redis`.
    pub status: String,
    /// The layer that line is about, if any (a short layer id).
    pub layer: Option<String>,
    /// Layers the engine has mentioned so far.
    pub layers: usize,
    /// Of those, the layers that are complete (downloaded and extracted, or already present).
    pub layers_done: usize,
    /// Bytes downloaded so far, over the layers whose size is known.
    pub bytes_done: u64,
    /// The size of those layers: the denominator for `bytes_done`. It grows as the engine starts
    /// downloading further layers.
    pub bytes_total: u64,
}

impl Engine {
    /// Whether `image` (a name with an optional tag, as in `docker run`) is on the machine.
    pub async fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker().inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(EngineError::engine(format!("inspecting image {image}"), e)),
        }
    }

    /// Makes sure `image` is on the machine under the `pull` policy, reporting a pull's progress
    /// to `progress`.
    ///
    /// With [`Pull::Never`] an absent image is [`EngineError::ImageMissing`], whose text says how
    /// to build or pull it; a failed pull is [`EngineError::Pull`].
    pub async fn ensure_image(
        &self,
        image: &str,
        pull: Pull,
        progress: impl FnMut(&PullProgress),
    ) -> Result<(), EngineError> {
        let present = match pull {
            Pull::Always => false,
            Pull::Missing | Pull::Never => self.image_present(image).await?,
        };
        match (present, pull) {
            (true, _) => Ok(()),
            (false, Pull::Never) => Err(EngineError::ImageMissing {
                image: image.to_owned(),
            }),
            (false, _) => self.pull(image, progress).await,
        }
    }

    /// Pulls `image` from its registry, whatever is on the machine. A name without a tag is
    /// pulled as `:latest` (the API would otherwise pull every tag of the repository).
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(&PullProgress),
    ) -> Result<(), EngineError> {
        let (from_image, tag) = split_reference(image);
        let options = CreateImageOptions {
            from_image: Some(from_image.to_owned()),
            tag: tag.map(str::to_owned),
            ..Default::default()
        };
        // No timeout: a large layer's first progress line can take longer than a request may.
        let docker = self.unbounded();
        let mut stream = docker.create_image(Some(options), None, None);
        let mut tracker = PullTracker::default();
        while let Some(line) = stream.next().await {
            let line = line.map_err(|source| EngineError::Pull {
                image: image.to_owned(),
                source,
            })?;
            progress(tracker.update(&line));
        }
        Ok(())
    }
}

/// `redis:7` → (`redis`, `7`); `reg:5000/app` → (`reg:5000/app`, `latest`); a digest reference
/// is passed whole, without a tag.
pub(crate) fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], Some(&image[name_start + i + 1..])),
        None => (image, Some("latest")),
    }
}

/// Sums the engine's per-layer progress lines into one [`PullProgress`].
#[derive(Default)]
struct PullTracker {
    layers: HashMap<String, Layer>,
    summary: PullProgress,
}

/// What is known of one layer.
#[derive(Default, Clone, Copy)]
struct Layer {
    current: u64,
    total: u64,
    done: bool,
}

impl PullTracker {
    /// Takes in one line of the engine's stream and returns the summary after it.
    fn update(&mut self, line: &CreateImageInfo) -> &PullProgress {
        let status = line.status.clone().unwrap_or_default();
        let layer_id = line.id.clone().filter(|_| is_layer_status(&status));
        if let Some(id) = &layer_id {
            let layer = self.layers.entry(id.clone()).or_default();
            let detail = line.progress_detail.as_ref();
            let number = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
            if status == "Downloading" {
                if let Some(total) = number(detail.and_then(|d| d.total)) {
                    layer.total = total;
                }
                if let Some(current) = number(detail.and_then(|d| d.current)) {
                    layer.current = current;
                }
            }
            if status == "Download complete" || status == "Verifying Checksum" {
                layer.current = layer.total;
            }
            if status == "Pull complete" || status == "Already exists" {
                layer.current = layer.total;
                layer.done = true;
            }
        }
        let values = self.layers.values();
        self.summary = PullProgress {
            status,
            layer: layer_id,
            layers: self.layers.len(),
            layers_done: values.clone().filter(|l| l.done).count(),
            bytes_done: values.clone().map(|l| l.current).sum(),
            bytes_total: values.map(|l| l.total).sum(),
        };
        &self.summary
    }
}

/// Whether a status line with an id is about a layer: `Pulling from x` carries the tag as its id,
/// `Digest:` and `Status:` lines carry none.
fn is_layer_status(status: &str) -> bool {
    !status.starts_with("Pulling from") && !status.starts_with("Digest") && !status.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ProgressDetail;

    #[test]
    fn references_split_into_name_and_tag() {
        assert_eq!(split_reference("redis:7"), ("redis", Some("7")));
        assert_eq!(split_reference("redis"), ("redis", Some("latest")));
        assert_eq!(
            split_reference("reg.local:5000/team/app"),
            ("reg.local:5000/team/app", Some("latest"))
        );
        assert_eq!(
            split_reference("reg.local:5000/app:v2"),
            ("reg.local:5000/app", Some("v2"))
        );
        assert_eq!(
            split_reference("app@sha256:abcd"),
            ("app@sha256:abcd", None)
        );
    }

    fn line(id: Option<&str>, status: &str, progress: Option<(i64, i64)>) -> CreateImageInfo {
        CreateImageInfo {
            id: id.map(str::to_owned),
            status: Some(status.to_owned()),
            progress_detail: progress.map(|(current, total)| ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn progress_sums_layers_and_bytes() {
        let mut t = PullTracker::default();
        let p = t.update(&line(Some("v2"), "Pulling from team/app", None));
        assert_eq!((p.layers, p.layer.as_deref()), (0, None));
        t.update(&line(Some("aaa"), "Pulling fs layer", None));
        t.update(&line(Some("bbb"), "Already exists", None));
        let p = t.update(&line(Some("aaa"), "Downloading", Some((100, 1000))));
        assert_eq!((p.layers, p.layers_done), (2, 1));
        assert_eq!((p.bytes_done, p.bytes_total), (100, 1000));
        assert_eq!(p.layer.as_deref(), Some("aaa"));
        t.update(&line(Some("aaa"), "Download complete", None));
        // Extraction progress counts bytes of the archive, not of the download: ignored.
        let p = t.update(&line(Some("aaa"), "Extracting", Some((5, 2000))));
        assert_eq!((p.bytes_done, p.bytes_total), (1000, 1000));
        let p = t.update(&line(Some("aaa"), "Pull complete", None));
        assert_eq!((p.layers, p.layers_done), (2, 2));
        let p = t.update(&line(None, "Digest: sha256:00", None));
        assert_eq!(p.status, "Digest: sha256:00");
        assert_eq!(p.layers, 2);
    }
}
