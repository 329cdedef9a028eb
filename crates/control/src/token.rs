//! The admin token: created once, readable only by its owner, required for every mutation.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `<data_dir>/token`.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("token")
}

/// Reads the token, creating it (mode 0600, 32 random bytes as hex) on first start.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = token_path(data_dir);
    match fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => {
            // Tighten permissions if someone loosened them.
            let mode = fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
            }
            return Ok(t.trim().to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(data_dir)?;
    let token = random_hex(32)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(token.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(token)
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_private_and_stable() {
        let dir = std::env::temp_dir().join(format!("shoal-token-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let t1 = load_or_create(&dir).unwrap();
        assert_eq!(t1.len(), 64);
        let mode = fs::metadata(token_path(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&dir).unwrap(), t1);
        assert!(token_matches(&t1, &t1));
        assert!(!token_matches(&t1, "nope"));
        let _ = fs::remove_dir_all(&dir);
    }
}
