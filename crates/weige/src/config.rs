//! Settings: command-line flags win over `WEIGE_*` environment variables, which win over the
//! TOML file given with `--config`, which wins over the defaults.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

pub const DEFAULT_DATABASE: &str = "sqlite://weige.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The TOML file. Every key is optional; an unknown key is an error, so a typo is not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database: Option<String>,
    pub listen: Option<String>,
    pub session_idle_minutes: Option<i64>,
    pub secure_cookies: Option<bool>,
    pub body_limit_bytes: Option<usize>,
    pub log_format: Option<String>,
    pub map_tile_url: Option<String>,
    pub map_attribution: Option<String>,
    pub data_key: Option<String>,
    pub data_key_file: Option<String>,
    pub files_dir: Option<String>,
    pub working_hours: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: shown,
        message: e.to_string(),
    })
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: String,
    pub listen: SocketAddr,
    pub session_idle_minutes: i64,
    pub secure_cookies: bool,
    pub body_limit_bytes: usize,
    pub json_logs: bool,
    pub map_tile_url: Option<String>,
    pub map_attribution: String,
    /// The data key (64 hex characters) itself, or the file holding it.
    pub data_key: DataKey,
    /// Where case photos are kept.
    pub files_dir: std::path::PathBuf,
    /// Working periods of a working day, minutes after midnight.
    pub working_hours: Vec<(u32, u32)>,
}

/// Where the key for personal data comes from: never the database.
#[derive(Clone, PartialEq, Eq)]
pub enum DataKey {
    Hex(String),
    File(std::path::PathBuf),
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataKey::Hex(_) => f.write_str("DataKey::Hex(***)"),
            DataKey::File(p) => write!(f, "DataKey::File({})", p.display()),
        }
    }
}

/// What the command line and environment gave (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub database: Option<String>,
    pub listen: Option<String>,
    pub session_idle_minutes: Option<i64>,
    pub secure_cookies: Option<bool>,
    pub log_format: Option<String>,
    pub map_tile_url: Option<String>,
    pub data_key: Option<String>,
    pub files_dir: Option<String>,
}

/// `09:00-12:00,13:30-17:30` → minutes after midnight.
pub fn parse_hours(s: &str) -> Result<Vec<(u32, u32)>, ConfigError> {
    let bad = || {
        ConfigError::Invalid(format!(
            "working_hours is like '09:00-12:00,13:30-17:30' (in order, not overlapping), not '{s}'"
        ))
    };
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let hours = s
        .split(',')
        .map(|p| {
            let (a, b) = p.split_once('-')?;
            Some((minute(a)?, minute(b)?))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    domain::calendar::WorkingCalendar::new(&hours).map_err(|_| bad())?;
    Ok(hours)
}

/// Photos go next to an SQLite database (`x.db` → `x-files/`), else into `weige-files/`.
fn default_files_dir(database: &str) -> std::path::PathBuf {
    match database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
    {
        Some(path) => {
            let path = Path::new(path.split('?').next().unwrap_or(path));
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("weige");
            path.with_file_name(format!("{stem}-files"))
        }
        None => "weige-files".into(),
    }
}

pub fn resolve(file: FileConfig, o: Overrides) -> Result<Settings, ConfigError> {
    let listen = o
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen.parse().map_err(|_| {
        ConfigError::Invalid(format!("listen address '{listen}' is not HOST:PORT with an IP host, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"))
    })?;
    let session_idle_minutes = o
        .session_idle_minutes
        .or(file.session_idle_minutes)
        .unwrap_or(30);
    if !(1..=24 * 60).contains(&session_idle_minutes) {
        return Err(ConfigError::Invalid(format!(
            "session_idle_minutes must be 1 to 1440, not {session_idle_minutes}"
        )));
    }
    let body_limit_bytes = file.body_limit_bytes.unwrap_or(1024 * 1024);
    if !(1024..=64 * 1024 * 1024).contains(&body_limit_bytes) {
        return Err(ConfigError::Invalid(format!(
            "body_limit_bytes must be 1024 to 67108864, not {body_limit_bytes}"
        )));
    }
    let log_format = o
        .log_format
        .or(file.log_format)
        .unwrap_or_else(|| "text".into());
    let json_logs = match log_format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(ConfigError::Invalid(format!(
                "log_format is 'text' or 'json', not '{other}'"
            )));
        }
    };
    let map_tile_url = o
        .map_tile_url
        .or(file.map_tile_url)
        .filter(|u| !u.is_empty());
    if let Some(u) = &map_tile_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(ConfigError::Invalid(format!(
            "map_tile_url must start with https:// or http://, not '{u}'"
        )));
    }
    let data_key = match (o.data_key.or(file.data_key), file.data_key_file) {
        (Some(hex), _) => DataKey::Hex(hex),
        (None, Some(path)) => DataKey::File(path.into()),
        (None, None) => DataKey::File("weige-data.key".into()),
    };
    let database = o
        .database
        .or(file.database)
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    let working_hours = match &file.working_hours {
        Some(h) => parse_hours(h)?,
        None => domain::calendar::DEFAULT_HOURS.to_vec(),
    };
    Ok(Settings {
        data_key,
        map_tile_url,
        map_attribution: file.map_attribution.unwrap_or_default(),
        files_dir: o
            .files_dir
            .or(file.files_dir)
            .map_or_else(|| default_files_dir(&database), Into::into),
        working_hours,
        database,
        listen,
        session_idle_minutes,
        secure_cookies: o.secure_cookies.or(file.secure_cookies).unwrap_or(false),
        body_limit_bytes,
        json_logs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig = toml::from_str("database = \"postgres://db/weige\"\nlisten = \"0.0.0.0:9000\"\nsession_idle_minutes = 10").unwrap();
        let s = resolve(
            file,
            Overrides {
                listen: Some("127.0.0.1:8081".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.database, "postgres://db/weige");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8081");
        assert_eq!(s.session_idle_minutes, 10);
        let d = resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(d.database, DEFAULT_DATABASE);
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn working_hours_and_the_photo_folder() {
        assert_eq!(
            parse_hours("09:00-12:00,13:30-17:30").unwrap(),
            vec![(540, 720), (810, 1050)]
        );
        assert!(parse_hours("12:00-09:00").is_err());
        assert!(parse_hours("9-12").is_err());
        assert_eq!(
            default_files_dir("sqlite:///tmp/x/weige.db"),
            Path::new("/tmp/x/weige-files")
        );
        assert_eq!(
            default_files_dir("postgres://db/weige"),
            Path::new("weige-files")
        );
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_not_a_silent_default() {
        let e = toml::from_str::<FileConfig>("databse = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("databse"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = resolve(
            FileConfig::default(),
            Overrides {
                listen: Some("localhost".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("localhost"));
        let e = resolve(
            FileConfig {
                session_idle_minutes: Some(0),
                ..Default::default()
            },
            Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("session_idle_minutes"));
    }
}
