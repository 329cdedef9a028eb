//! "Did you mean ...?" for misspelled keys: the closest allowed key by edit distance.

/// The allowed key closest to `unknown`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(unknown: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase();
    allowed
        .iter()
        .map(|&candidate| (edit_distance(&unknown, candidate), candidate))
        .filter(|&(d, candidate)| d <= (candidate.chars().count() / 3).clamp(1, 3))
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("helth", "health"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggestions() {
        let keys = ["command", "health", "slow_start", "env", "route"];
        assert_eq!(closest("helth", &keys), Some("health"));
        assert_eq!(closest("Command", &keys), Some("command"));
        assert_eq!(closest("slowstart", &keys), Some("slow_start"));
        assert_eq!(closest("envs", &keys), Some("env"));
        assert_eq!(closest("zzzzzz", &keys), None);
        assert_eq!(closest("cmd", &keys), None);
    }
}
