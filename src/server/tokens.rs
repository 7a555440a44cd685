//! Random secrets we hand out (API keys, invitation links, recovery codes) and how we keep
//! them: only a hash, enough for values of many random bits (never for passwords).

use sha2::{Digest, Sha256};

/// A random string of letters and digits from the operating system's generator.
pub fn random_token(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// SHA-256 in hex: enough for secrets of many random bits (never for passwords).
pub fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}
