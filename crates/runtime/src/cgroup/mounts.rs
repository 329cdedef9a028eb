//! Where the cgroup file systems are mounted (`/proc/self/mountinfo`) and which cgroup this
//! process is in (`/proc/self/cgroup`).

use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// The cgroup of the hierarchy that appears at the mount point (`/` unless only a subtree is
    /// mounted, as in some containers).
    pub(crate) root: String,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub(crate) mount_point: PathBuf,
    /// `None` for the unified (v2) hierarchy; for a v1 hierarchy its mount options, which name
    /// the controllers attached to it (`rw,cpu,cpuacct`).
    pub(crate) v1_options: Option<Vec<String>>,
}

impl Mount {
    /// Whether this is a v1 hierarchy with `controller` attached.
    pub(crate) fn has_v1_controller(&self, controller: &str) -> bool {
        self.v1_options
            .as_ref()
            .is_some_and(|options| options.iter().any(|o| o == controller))
    }

    /// The directory of `cgroup` (a path in the hierarchy, as in `/proc/self/cgroup`), if it
    /// lies below the mounted root.
    pub(crate) fn dir_of(&self, cgroup: &str) -> Option<PathBuf> {
        let relative = if self.root == "/" {
            cgroup.strip_prefix('/')?
        } else {
            let rest = cgroup.strip_prefix(self.root.as_str())?;
            if !rest.is_empty() && !rest.starts_with('/') {
                return None;
            }
            rest.trim_start_matches('/')
        };
        Some(if relative.is_empty() {
            self.mount_point.clone()
        } else {
            self.mount_point.join(relative)
        })
    }
}

/// The cgroup mounts listed in the text of `/proc/self/mountinfo`:
///
/// ```text
/// 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
/// ```
///
/// that is: id, parent id, device, root, mount point, options, optional fields, `-`, file system
/// type, source, super options.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fs_type = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("");
            let v1_options = match fs_type {
                "cgroup2" => None,
                "cgroup" => Some(options.split(',').map(str::to_owned).collect()),
                _ => return None,
            };
            Some(Mount {
                root: unescape(left.get(3)?),
                mount_point: PathBuf::from(unescape(left.get(4)?)),
                v1_options,
            })
        })
        .collect()
}

/// Undoes the octal escapes (`\040` for a space) of mountinfo paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        if let (b'\\', Some(&[a, b, c])) = (bytes[i], digits) {
            let octal = |d: u8| (b'0'..=b'7').contains(&d).then(|| u32::from(d - b'0'));
            if let (Some(a), Some(b), Some(c)) = (octal(a), octal(b), octal(c)) {
                if let Ok(byte) = u8::try_from(a * 64 + b * 8 + c) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`, e.g. `4:memory:/user` or,
/// for the unified hierarchy, `0::/user.slice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    /// The controllers of a v1 hierarchy (or its `name=` option); empty for the unified one.
    pub(crate) controllers: Vec<String>,
    /// The cgroup, as a path in the hierarchy.
    pub(crate) path: String,
}

/// Parses the text of `/proc/<pid>/cgroup`.
pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(Membership {
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// What this process knows about cgroups: the mounts and its own place in them.
#[derive(Debug, Clone, Default)]
pub(crate) struct System {
    pub(crate) mounts: Vec<Mount>,
    pub(crate) memberships: Vec<Membership>,
}

impl System {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub(crate) fn read() -> Result<Self, String> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
        };
        Ok(Self {
            mounts: parse_mountinfo(&read("/proc/self/mountinfo")?),
            memberships: parse_proc_cgroup(&read("/proc/self/cgroup").unwrap_or_default()),
        })
    }

    /// The unified (v2) mounts.
    pub(crate) fn v2_mounts(&self) -> impl Iterator<Item = &Mount> {
        self.mounts.iter().filter(|m| m.v1_options.is_none())
    }

    /// The v1 mount carrying `controller`, if any.
    pub(crate) fn v1_mount(&self, controller: &str) -> Option<&Mount> {
        self.mounts.iter().find(|m| m.has_v1_controller(controller))
    }

    /// The directory of this process's own cgroup in `mount`, if it can be told.
    pub(crate) fn own_dir(&self, mount: &Mount) -> Option<PathBuf> {
        let membership = match &mount.v1_options {
            None => self.memberships.iter().find(|m| m.controllers.is_empty())?,
            Some(options) => self
                .memberships
                .iter()
                .find(|m| m.controllers.iter().any(|c| options.contains(c)))?,
        };
        mount.dir_of(&membership.path)
    }

    /// The places where shoal may put its cgroups in `mount`: the mounted root first, then the
    /// cgroup this process is in (which is where a delegated subtree would be).
    pub(crate) fn bases(&self, mount: &Mount) -> Vec<PathBuf> {
        let mut bases = vec![mount.mount_point.clone()];
        if let Some(own) = self.own_dir(mount) {
            if !bases.contains(&own) {
                bases.push(own);
            }
        }
        bases
    }
}

/// Whether `dir` exists and is a directory.
pub(crate) fn is_dir(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hybrid layout: v1 controllers in separate hierarchies, a v2 hierarchy without any.
    const HYBRID: &str = "\
23 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn mounts_are_found_with_their_controllers() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].mount_point, Path::new("/sys/fs/cgroup/cpu"));
        assert!(mounts[0].has_v1_controller("cpu"));
        assert!(!mounts[0].has_v1_controller("cpuacct"));
        assert!(mounts[1].has_v1_controller("cpuacct"));
        assert!(!mounts[3].has_v1_controller("systemd"));
        assert_eq!(mounts[4].v1_options, None);
        assert!(!mounts[4].has_v1_controller("cpu"));
    }

    #[test]
    fn co_mounted_controllers_and_optional_fields() {
        let text = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 master:3 - \
                    cgroup cgroup rw,cpu,cpuacct\n\
                    29 25 0:25 /docker/abc /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 2);
        assert!(mounts[0].has_v1_controller("cpu") && mounts[0].has_v1_controller("cpuacct"));
        assert_eq!(
            mounts[0].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(mounts[1].root, "/docker/abc");
        assert_eq!(mounts[1].v1_options, None);
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let text = "41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts[0].mount_point, Path::new("/mnt/my cgroups"));
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }

    #[test]
    fn own_cgroup_directories() {
        let system = System {
            mounts: parse_mountinfo(HYBRID),
            memberships: parse_proc_cgroup(
                "9:name=systemd:/\n4:memory:/jobs/42\n2:cpuacct:/\n1:cpu:/\n0::/\n",
            ),
        };
        let memory = system.v1_mount("memory").unwrap();
        assert_eq!(
            system.own_dir(memory),
            Some(PathBuf::from("/sys/fs/cgroup/memory/jobs/42"))
        );
        assert_eq!(
            system.bases(memory),
            [
                PathBuf::from("/sys/fs/cgroup/memory"),
                PathBuf::from("/sys/fs/cgroup/memory/jobs/42")
            ]
        );
        let cpu = system.v1_mount("cpu").unwrap();
        assert_eq!(system.bases(cpu), [PathBuf::from("/sys/fs/cgroup/cpu")]);
        let unified = system.v2_mounts().next().unwrap();
        assert_eq!(
            system.own_dir(unified),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert!(system.v1_mount("pids").is_none());
    }

    #[test]
    fn paths_outside_a_mounted_subtree_have_no_directory() {
        let mount = Mount {
            root: "/docker/abc".into(),
            mount_point: PathBuf::from("/sys/fs/cgroup"),
            v1_options: None,
        };
        assert_eq!(
            mount.dir_of("/docker/abc/x"),
            Some(PathBuf::from("/sys/fs/cgroup/x"))
        );
        assert_eq!(
            mount.dir_of("/docker/abc"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(mount.dir_of("/docker/abcd"), None);
        assert_eq!(mount.dir_of("/other"), None);
    }

    #[test]
    fn proc_cgroup_lines() {
        let lines = parse_proc_cgroup("2:cpu,cpuacct:/a:b\n0::/\n");
        assert_eq!(
            lines,
            [
                Membership {
                    controllers: vec!["cpu".into(), "cpuacct".into()],
                    path: "/a:b".into()
                },
                Membership {
                    controllers: vec![],
                    path: "/".into()
                }
            ]
        );
    }
}
