//! Field encryption for personal data: AES-256-GCM with a random nonce per value and the field's
//! name as associated data (a value cannot be moved to another column), plus keyed hashes
//! (HMAC-SHA256) for exact lookup without decrypting. Both keys are derived from one 32-byte
//! master key that lives outside the database (configuration, environment or a key file).

use aes_gcm::aead::Aead;
use aes_gcm::aead::Nonce;
use aes_gcm::{Aes256Gcm, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CryptoError {
    #[error("the data key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("no randomness available")]
    NoRandomness,
    #[error(
        "a stored value cannot be decrypted with this key (wrong key, or the value was tampered with)"
    )]
    Undecryptable,
}

/// Fills `out` with random bytes from the operating system. They are drawn from a pool of the
/// calling thread's, filled [`POOL`] bytes at a time by one `getrandom` call and wiped as it is
/// used, so that a token or a nonce does not cost a system call of its own (a report's follow
/// token did: 1.5 % of the CPU its request spends on the server's threads, `perf`).
pub fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    if out.len() > POOL / 4 {
        return getrandom::fill(out).map_err(|_| CryptoError::NoRandomness);
    }
    thread_local! {
        /// The pool, and how much of it has been used (all of it at first).
        static RANDOM: std::cell::RefCell<([u8; POOL], usize)> =
            const { std::cell::RefCell::new(([0; POOL], POOL)) };
    }
    RANDOM.with_borrow_mut(|(pool, used)| {
        if POOL - *used < out.len() {
            getrandom::fill(pool).map_err(|_| CryptoError::NoRandomness)?;
            *used = 0;
        }
        let taken = &mut pool[*used..*used + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        *used += out.len();
        Ok(())
    })
}

/// The size of a thread's pool of random bytes ([`fill_random`]).
const POOL: usize = 4096;

/// The ciphers of one deployment, cheap to clone. Its `Debug` shows nothing of the keys.
#[derive(Clone)]
pub struct FieldCipher(std::sync::Arc<Keys>);

struct Keys {
    aead: Aes256Gcm,
    index_key: [u8; 32],
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(..)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl FieldCipher {
    pub fn new(master: &[u8; 32]) -> FieldCipher {
        let enc = derive(master, b"weige field encryption v1");
        FieldCipher(std::sync::Arc::new(Keys {
            aead: Aes256Gcm::new(&enc.into()),
            index_key: derive(master, b"weige blind index v1"),
        }))
    }

    /// From 64 hexadecimal characters.
    pub fn from_hex(hex: &str) -> Result<FieldCipher, CryptoError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CryptoError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| CryptoError::BadKey)?;
        }
        Ok(FieldCipher::new(&key))
    }

    /// A new random master key, as 64 hexadecimal characters.
    pub fn generate_hex() -> Result<String, CryptoError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|_| CryptoError::NoRandomness)?;
        Ok(hex(&key))
    }

    /// `version ‖ nonce (12) ‖ ciphertext ‖ tag`.
    pub fn encrypt(&self, field: &str, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 12];
        fill_random(&mut nonce)?;
        let sealed = self
            .0
            .aead
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                aes_gcm::aead::Payload {
                    msg: plaintext.as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Undecryptable)?;
        let mut out = Vec::with_capacity(1 + 12 + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn decrypt(&self, field: &str, stored: &[u8]) -> Result<String, CryptoError> {
        if stored.len() < 13 + 16 || stored[0] != VERSION {
            return Err(CryptoError::Undecryptable);
        }
        let nonce: [u8; 12] = stored[1..13]
            .try_into()
            .map_err(|_| CryptoError::Undecryptable)?;
        let plain = self
            .0
            .aead
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                aes_gcm::aead::Payload {
                    msg: &stored[13..],
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Undecryptable)
    }

    /// A keyed hash of a normalised value, for equality lookup: the same value gives the same
    /// hash, and without the key the hash says nothing.
    pub fn blind_index(&self, field: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0.index_key)
            .expect("HMAC takes any key length");
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// Bytes as lowercase hexadecimal, two digits each (hashes, keys and tokens are shown so).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        FieldCipher::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn random_bytes_drawn_across_refills_of_the_pool_never_repeat() {
        // 16 bytes at a time: the pool is refilled every 256 draws.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let mut b = [0u8; 16];
            fill_random(&mut b).unwrap();
            assert!(seen.insert(b), "a draw repeated");
        }
        // Draws that do not fit a pool's rest, and one larger than the pool allows.
        let mut odd = [0u8; 1000];
        for _ in 0..10 {
            fill_random(&mut odd).unwrap();
            assert!(odd.iter().any(|&b| b != 0));
        }
        let mut big = vec![0u8; 3 * POOL];
        fill_random(&mut big).unwrap();
        assert!(big[2 * POOL..].iter().any(|&b| b != 0));
    }

    #[test]
    fn hex_writes_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff, 0x5b]), "000fa0ff5b");
        for b in 0..=255u8 {
            assert_eq!(hex(&[b]), format!("{b:02x}"));
        }
    }

    #[test]
    fn values_round_trip_and_never_repeat() {
        let c = cipher();
        let a = c.encrypt("resident.phone", "13812345678").unwrap();
        let b = c.encrypt("resident.phone", "13812345678").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(c.decrypt("resident.phone", &a).unwrap(), "13812345678");
        assert!(!a.windows(11).any(|w| w == b"13812345678"));
    }

    #[test]
    fn a_value_moved_to_another_field_or_read_with_another_key_fails() {
        let c = cipher();
        let a = c.encrypt("resident.phone", "13812345678").unwrap();
        assert_eq!(
            c.decrypt("resident.id_number", &a),
            Err(CryptoError::Undecryptable)
        );
        let other = FieldCipher::from_hex(&"cd".repeat(32)).unwrap();
        assert_eq!(
            other.decrypt("resident.phone", &a),
            Err(CryptoError::Undecryptable)
        );
        let mut tampered = a.clone();
        tampered[20] ^= 1;
        assert_eq!(
            c.decrypt("resident.phone", &tampered),
            Err(CryptoError::Undecryptable)
        );
    }

    #[test]
    fn blind_indexes_are_stable_per_key_and_field() {
        let c = cipher();
        assert_eq!(c.blind_index("phone", "1"), c.blind_index("phone", "1"));
        assert_ne!(c.blind_index("phone", "1"), c.blind_index("id", "1"));
        assert_ne!(
            c.blind_index("phone", "1"),
            FieldCipher::from_hex(&"cd".repeat(32))
                .unwrap()
                .blind_index("phone", "1")
        );
        assert_eq!(
            FieldCipher::from_hex("xyz").unwrap_err(),
            CryptoError::BadKey
        );
        assert_eq!(FieldCipher::generate_hex().unwrap().len(), 64);
    }
}
