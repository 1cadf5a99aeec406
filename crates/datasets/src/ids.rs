//! Random identifiers and secrets.

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source works");
    hex::encode(buffer)
}

/// A new dataset id: `ds` and 20 hex digits (80 random bits); the rule ids are checked by is
/// `delta_bridge_api::DatasetId`.
pub fn dataset_id() -> String {
    format!("ds{}", random_hex(10))
}

/// A new recipient id: `rc` and 20 hex digits (its share's and its token's name in `share.yaml`).
pub fn recipient_id() -> String {
    format!("rc{}", random_hex(10))
}

/// A new upload id: `up` and 24 hex digits.
pub fn upload_id() -> String {
    format!("up{}", random_hex(12))
}

/// Whether `id` looks like an id this crate made with `prefix` (dataset ids: `DatasetId::is_valid`) (so it can go into a key or a path).
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len()
        && id.starts_with(prefix)
        && id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_dataset_ids_follow_the_one_rule() {
        for _ in 0..100 {
            let id = super::dataset_id();
            assert!(delta_bridge_api::DatasetId::is_valid(&id), "{id}");
        }
    }
}
