//! Random tokens, token hashes and password hashes.

use crate::AppError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

pub use store::hex;

/// `n` random bytes from the operating system, hex-encoded.
pub fn random_hex(n: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; n];
    store::fill_random(&mut buf).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(hex(&buf))
}

/// Tokens and API keys carry 128+ bits of randomness, so a fast hash is enough to store them.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn argon2() -> argon2::Argon2<'static> {
    argon2::Argon2::default()
}

/// An argon2id PHC string. Runs on a blocking thread: it costs tens of milliseconds on purpose.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
        argon2()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        argon2()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified against when the username is unknown so that a
/// wrong username takes as long as a wrong password.
pub static DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yo4dAhx5dH1wLgDx3p4CqjzTuSpVq0i3ZnqxKkCGFZw";
