//! Photos of cases, kept as files outside the database, named by the SHA-256 of their bytes (so
//! the same photo is stored once and a name cannot be guessed from another). Only JPEG, PNG and
//! WebP are taken, recognised by their bytes, never by a name or a declared type.

use crate::secret::hex;
use crate::{AppError, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The largest photo taken.
pub const MAX_PHOTO_BYTES: usize = 5 << 20;
/// The most photos one report or one handling carries.
pub const MAX_PHOTOS: usize = 6;

/// What an image is, from its first bytes.
pub fn image_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// A photo checked and ready to store.
#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub ext: &'static str,
}

impl Photo {
    /// A photo sent as base64 (standard alphabet; a `data:image/…;base64,` prefix is allowed).
    pub fn from_base64(text: &str, n: usize) -> Result<Photo> {
        use base64::Engine;
        let text = text.trim();
        let text = match text.split_once(";base64,") {
            Some((head, rest)) if head.starts_with("data:") => rest,
            _ => text,
        };
        if text.len() > MAX_PHOTO_BYTES / 3 * 4 + 8 {
            return Photo::check(vec![0; MAX_PHOTO_BYTES + 1], n);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                AppError::invalid(
                    "photos",
                    format!("第 {n} 张照片不是 base64 / photo {n} is not base64"),
                )
            })?;
        Photo::check(bytes, n)
    }

    /// Checks a photo: its type from its bytes, and its size. `n` numbers it in messages.
    pub fn check(bytes: Vec<u8>, n: usize) -> Result<Photo> {
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(AppError::invalid(
                "photos",
                format!(
                    "第 {n} 张照片超过 {} MB / photo {n} is larger than {} MB",
                    MAX_PHOTO_BYTES >> 20,
                    MAX_PHOTO_BYTES >> 20
                ),
            ));
        }
        let (mime, ext) = image_type(&bytes).ok_or_else(|| {
            AppError::invalid(
                "photos",
                format!("第 {n} 个文件不是 JPEG、PNG 或 WebP 图片 / file {n} is not a JPEG, PNG or WebP image"),
            )
        })?;
        Ok(Photo { bytes, mime, ext })
    }
}

/// The folder photos are kept in.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: std::sync::Arc<PathBuf>,
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore {
            dir: std::sync::Arc::new(dir.into()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the photo (once; a second copy of the same bytes is the same file) and returns its
    /// name. The file is complete before the name is returned: written aside, then renamed.
    pub async fn put(&self, photo: &Photo) -> Result<String> {
        let name = format!("{}.{}", hex(&Sha256::digest(&photo.bytes)), photo.ext);
        let sub = self.dir.join(&name[..2]);
        let path = sub.join(&name);
        let io = |e: std::io::Error| {
            AppError::Internal(format!("photo store {}: {e}", self.dir.display()))
        };
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(name);
        }
        tokio::fs::create_dir_all(&sub).await.map_err(io)?;
        let tmp = sub.join(format!("{name}.{}.part", crate::random_hex(6)?));
        tokio::fs::write(&tmp, &photo.bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(name)
    }

    /// The bytes of a stored photo.
    pub async fn get(&self, name: &str) -> Result<Vec<u8>> {
        let valid = name.len() > 3
            && name
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == '.' || c.is_ascii_lowercase());
        if !valid || name.contains("..") {
            return Err(AppError::NotFound("photo"));
        }
        tokio::fs::read(self.dir.join(&name[..2]).join(name))
            .await
            .map_err(|_| AppError::NotFound("photo"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes() {
        assert_eq!(
            image_type(&[0xFF, 0xD8, 0xFF, 0xE0]).map(|t| t.0),
            Some("image/jpeg")
        );
        assert_eq!(
            image_type(b"\x89PNG\r\n\x1a\n....").map(|t| t.0),
            Some("image/png")
        );
        assert_eq!(
            image_type(b"RIFF\0\0\0\0WEBPVP8 ").map(|t| t.0),
            Some("image/webp")
        );
        assert_eq!(image_type(b"GIF89a"), None);
        assert_eq!(image_type(b"<svg"), None);
        assert!(Photo::check(b"%PDF-1.7".to_vec(), 1).is_err());
        assert!(Photo::check(vec![0xFF; MAX_PHOTO_BYTES + 1], 1).is_err());
    }
}
