//! Configuration from `hiroba.toml` and `HIROBA_*` environment variables (the
//! environment wins). Every problem is one line naming the setting.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use hiroba_store::{DbKey, DbTarget, SecretBox};
use serde::Deserialize;

/// A configuration problem, printed as one line; the process exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("設定エラー ({setting}): {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn err(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

/// The file's shape; every field optional so the environment can fill it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<String>,
    db_key_file: Option<String>,
    secret_key_file: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    behind_https_proxy: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    session_idle_minutes: Option<i64>,
    session_absolute_hours: Option<i64>,
    line_narrowcast_from: Option<i64>,
    access_log_dir: Option<String>,
    access_log_retention_days: Option<usize>,
    public_url: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<i64>,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    mail_from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: DatabaseSetting,
    pub data_dir: PathBuf,
    /// The key that seals stored credentials (LINE channel secrets and tokens);
    /// `HIROBA_SECRET_KEY` wins over this file.
    pub secret_key_file: PathBuf,
    pub tls: Option<TlsFiles>,
    pub behind_https_proxy: bool,
    pub trusted_proxies: Vec<IpAddr>,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// A delivery run with at least this many recipients goes out as one
    /// narrowcast to an uploaded audience instead of multicasts (0: never).
    pub line_narrowcast_from: i64,
    pub access_log_dir: PathBuf,
    pub access_log_retention_days: usize,
    /// The address residents use, for links in mail.
    pub public_url: String,
    /// `None`: mail stays in the outbox (demo, or no SMTP server configured).
    pub smtp: Option<hiroba_jobs::mail::SmtpSettings>,
}

/// Where the database is, before its key is read.
#[derive(Debug, Clone)]
pub enum DatabaseSetting {
    Sqlite { path: PathBuf, key_file: PathBuf },
    Postgres { url: String },
}

pub const KEY_FILE: &str = "hiroba.key";
pub const SECRET_KEY_FILE: &str = "hiroba-secret.key";
pub const DB_FILE: &str = "hiroba.db";

impl Config {
    /// Reads a file (if given) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut raw = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    err("--config", format!("{} を読めません: {e}", path.display()))
                })?;
                toml::from_str::<RawConfig>(&text).map_err(|e| {
                    let message = e.message().replace('\n', " ");
                    // The error's span points into the offending line; its key names the setting.
                    let setting = e
                        .span()
                        .and_then(|span| {
                            let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                            let line = text[start..].lines().next()?;
                            line.split_once('=').map(|(key, _)| key.trim().to_owned())
                        })
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| path.display().to_string());
                    err(&setting, message)
                })?
            }
            None => RawConfig::default(),
        };
        apply_env(&mut raw, |k| std::env::var(k).ok())?;
        Self::validate(raw)
    }

    /// The embedded default used by `hiroba demo` and `--data-dir`.
    pub fn for_data_dir(dir: &Path) -> Result<Self, ConfigError> {
        let mut raw = RawConfig::default();
        apply_env(&mut raw, |k| std::env::var(k).ok())?;
        raw.data_dir = Some(dir.display().to_string());
        raw.database_url = None;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_text.parse().map_err(|_| {
            err(
                "listen",
                format!("'{listen_text}' はアドレスとポートの形ではありません（例: 0.0.0.0:8443）"),
            )
        })?;
        let data_dir = PathBuf::from(raw.data_dir.unwrap_or_else(|| "./hiroba-data".into()));
        let secret_key_file = raw
            .secret_key_file
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join(SECRET_KEY_FILE));
        let database = match raw.database_url {
            None => DatabaseSetting::Sqlite {
                path: data_dir.join(DB_FILE),
                key_file: raw
                    .db_key_file
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data_dir.join(KEY_FILE)),
            },
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseSetting::Postgres { url }
            }
            Some(url) if url.starts_with("sqlite://") => {
                let path = url.trim_start_matches("sqlite://");
                if path.is_empty() {
                    return Err(err(
                        "database_url",
                        "sqlite:// の後にファイルのパスを書いてください",
                    ));
                }
                DatabaseSetting::Sqlite {
                    path: PathBuf::from(path),
                    key_file: raw
                        .db_key_file
                        .map(PathBuf::from)
                        .unwrap_or_else(|| data_dir.join(KEY_FILE)),
                }
            }
            Some(_) => {
                return Err(err(
                    "database_url",
                    "sqlite://パス または postgres://… の形で書いてください（URLの内容は表示しません）",
                ));
            }
        };
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(err(
                    "tls_key",
                    "tls_cert を指定したときは tls_key も必要です",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "tls_cert",
                    "tls_key を指定したときは tls_cert も必要です",
                ));
            }
        };
        let mut trusted_proxies = Vec::new();
        for p in raw.trusted_proxies.unwrap_or_default() {
            trusted_proxies.push(p.trim().parse().map_err(|_| {
                err(
                    "trusted_proxies",
                    format!("'{p}' はIPアドレスではありません"),
                )
            })?);
        }
        let idle = raw.session_idle_minutes.unwrap_or(30);
        if !(5..=24 * 60).contains(&idle) {
            return Err(err("session_idle_minutes", "5〜1440 の分数にしてください"));
        }
        let narrowcast_from = raw.line_narrowcast_from.unwrap_or(100_000);
        if narrowcast_from != 0 && !(1_000..=100_000_000).contains(&narrowcast_from) {
            return Err(err(
                "line_narrowcast_from",
                "0（使わない）か 1000 以上の人数にしてください",
            ));
        }
        let absolute = raw.session_absolute_hours.unwrap_or(12);
        if !(1..=72).contains(&absolute) {
            return Err(err(
                "session_absolute_hours",
                "1〜72 の時間数にしてください",
            ));
        }
        let retention = raw.access_log_retention_days.unwrap_or(400);
        if !(1..=3650).contains(&retention) {
            return Err(err(
                "access_log_retention_days",
                "1〜3650 の日数にしてください",
            ));
        }
        let smtp = match raw.smtp_host.filter(|h| !h.trim().is_empty()) {
            None => None,
            Some(host) => {
                let security = match raw.smtp_security.as_deref().unwrap_or("starttls") {
                    "starttls" => hiroba_jobs::mail::Security::StartTls,
                    "tls" => hiroba_jobs::mail::Security::Tls,
                    "none" => hiroba_jobs::mail::Security::None,
                    _ => {
                        return Err(err(
                            "smtp_security",
                            "starttls / tls / none のどれかを指定してください",
                        ));
                    }
                };
                let default_port = if matches!(security, hiroba_jobs::mail::Security::Tls) {
                    465
                } else {
                    587
                };
                let port = u16::try_from(raw.smtp_port.unwrap_or(default_port))
                    .map_err(|_| err("smtp_port", "1〜65535 のポート番号にしてください"))?;
                let from = raw.mail_from.filter(|f| !f.trim().is_empty()).ok_or_else(|| err("mail_from", "SMTPを使うときは送信元アドレスを指定してください（例: 国富町 施設予約 <yoyaku@example.jp>）"))?;
                Some(hiroba_jobs::mail::SmtpSettings {
                    host,
                    port,
                    security,
                    username: raw.smtp_username,
                    password: raw.smtp_password,
                    from,
                })
            }
        };
        let public_url = match raw
            .public_url
            .map(|u| u.trim().trim_end_matches('/').to_owned())
        {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => u,
            Some(_) => {
                return Err(err(
                    "public_url",
                    "https:// で始まるアドレスを指定してください（例: https://yoyaku.town.example.jp）",
                ));
            }
            None => format!(
                "{}://{listen}",
                if tls.is_some() { "https" } else { "http" }
            ),
        };
        Ok(Config {
            secret_key_file,
            public_url,
            smtp,
            listen,
            database,
            access_log_dir: raw
                .access_log_dir
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("logs")),
            data_dir,
            tls,
            behind_https_proxy: raw.behind_https_proxy.unwrap_or(false),
            trusted_proxies,
            session_idle_minutes: idle,
            session_absolute_hours: absolute,
            line_narrowcast_from: narrowcast_from,
            access_log_retention_days: retention,
        })
    }

    /// The box that seals stored credentials: `HIROBA_SECRET_KEY` (64 hex
    /// characters), else the secret key file, created (mode 0600) when missing.
    /// Every app instance must use the same key; `SecretBox::verify_against`
    /// refuses a different one at start.
    pub fn secret_box(&self) -> Result<SecretBox, ConfigError> {
        let key = match std::env::var("HIROBA_SECRET_KEY") {
            Ok(hex) => DbKey::from_hex(&hex).map_err(|m| err("HIROBA_SECRET_KEY", m))?,
            Err(_) => read_or_create_key_as(&self.secret_key_file, true, "secret_key_file")?,
        };
        SecretBox::new(&key).map_err(|e| err("secret_key_file", e.to_string()))
    }

    /// Resolves the database key: `HIROBA_DB_KEY`, else the key file. With
    /// `create_key` a missing key file is generated (mode 0600).
    pub fn db_target(&self, create_key: bool) -> Result<DbTarget, ConfigError> {
        match &self.database {
            DatabaseSetting::Postgres { url } => Ok(DbTarget::Postgres { url: url.clone() }),
            DatabaseSetting::Sqlite { path, key_file } => {
                let key = match std::env::var("HIROBA_DB_KEY") {
                    Ok(hex) => DbKey::from_hex(&hex).map_err(|m| err("HIROBA_DB_KEY", m))?,
                    Err(_) => read_or_create_key(key_file, create_key)?,
                };
                Ok(DbTarget::Sqlite {
                    path: path.clone(),
                    key,
                })
            }
        }
    }
}

fn read_or_create_key(path: &Path, create: bool) -> Result<DbKey, ConfigError> {
    read_or_create_key_as(path, create, "db_key_file")
}

fn read_or_create_key_as(path: &Path, create: bool, setting: &str) -> Result<DbKey, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            DbKey::from_hex(&text).map_err(|m| err(setting, format!("{}: {m}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = DbKey::generate().map_err(|m| err(setting, m))?;
            write_private(path, &key.to_hex())
                .map_err(|e| err(setting, format!("{} を作れません: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(
            setting,
            format!(
                "鍵ファイル {} がありません。先に `hiroba demo` か `hiroba migrate` でデータベースを作ってください",
                path.display()
            ),
        )),
        Err(e) => Err(err(
            setting,
            format!("{} を読めません: {e}", path.display()),
        )),
    }
}

/// Writes a file readable only by its owner.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

fn apply_env(raw: &mut RawConfig, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let parse_bool = |name: &str, v: String| match v.as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(name, "true か false を指定してください")),
    };
    let parse_num = |name: &str, v: String| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| err(name, "数値を指定してください"))
    };
    if let Some(v) = get("HIROBA_LISTEN") {
        raw.listen = Some(v);
    }
    if let Some(v) = get("HIROBA_DATABASE_URL") {
        raw.database_url = Some(v);
    }
    if let Some(v) = get("HIROBA_DATA_DIR") {
        raw.data_dir = Some(v);
    }
    if let Some(v) = get("HIROBA_DB_KEY_FILE") {
        raw.db_key_file = Some(v);
    }
    if let Some(v) = get("HIROBA_SECRET_KEY_FILE") {
        raw.secret_key_file = Some(v);
    }
    if let Some(v) = get("HIROBA_TLS_CERT") {
        raw.tls_cert = Some(v);
    }
    if let Some(v) = get("HIROBA_TLS_KEY") {
        raw.tls_key = Some(v);
    }
    if let Some(v) = get("HIROBA_BEHIND_HTTPS_PROXY") {
        raw.behind_https_proxy = Some(parse_bool("HIROBA_BEHIND_HTTPS_PROXY", v)?);
    }
    if let Some(v) = get("HIROBA_TRUSTED_PROXIES") {
        raw.trusted_proxies = Some(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    if let Some(v) = get("HIROBA_SESSION_IDLE_MINUTES") {
        raw.session_idle_minutes = Some(parse_num("HIROBA_SESSION_IDLE_MINUTES", v)?);
    }
    if let Some(v) = get("HIROBA_LINE_NARROWCAST_FROM") {
        raw.line_narrowcast_from = Some(parse_num("HIROBA_LINE_NARROWCAST_FROM", v)?);
    }
    if let Some(v) = get("HIROBA_SESSION_ABSOLUTE_HOURS") {
        raw.session_absolute_hours = Some(parse_num("HIROBA_SESSION_ABSOLUTE_HOURS", v)?);
    }
    if let Some(v) = get("HIROBA_PUBLIC_URL") {
        raw.public_url = Some(v);
    }
    if let Some(v) = get("HIROBA_SMTP_HOST") {
        raw.smtp_host = Some(v);
    }
    if let Some(v) = get("HIROBA_SMTP_PORT") {
        raw.smtp_port = Some(parse_num("HIROBA_SMTP_PORT", v)?);
    }
    if let Some(v) = get("HIROBA_SMTP_SECURITY") {
        raw.smtp_security = Some(v);
    }
    if let Some(v) = get("HIROBA_SMTP_USERNAME") {
        raw.smtp_username = Some(v);
    }
    if let Some(v) = get("HIROBA_SMTP_PASSWORD") {
        raw.smtp_password = Some(v);
    }
    if let Some(v) = get("HIROBA_MAIL_FROM") {
        raw.mail_from = Some(v);
    }
    if let Some(v) = get("HIROBA_ACCESS_LOG_DIR") {
        raw.access_log_dir = Some(v);
    }
    if let Some(v) = get("HIROBA_ACCESS_LOG_RETENTION_DAYS") {
        let n = parse_num("HIROBA_ACCESS_LOG_RETENTION_DAYS", v)?;
        raw.access_log_retention_days = Some(usize::try_from(n).map_err(|_| {
            err(
                "HIROBA_ACCESS_LOG_RETENTION_DAYS",
                "正の日数を指定してください",
            )
        })?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hiroba.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let e = from_toml("listen = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.setting, "listen");
        let e = from_toml("database_url = \"mysql://x\"\n").unwrap_err();
        assert_eq!(e.setting, "database_url");
        assert!(
            !e.to_string().contains("mysql://x"),
            "URL (may hold a password) must not be echoed"
        );
        let e = from_toml("colour = 3\n").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = from_toml("session_idle_minutes = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("session_idle_minutes"), "{e}");
        let e = from_toml("line_narrowcast_from = 10\n").unwrap_err();
        assert_eq!(e.setting, "line_narrowcast_from");
        assert!(e.to_string().contains("1000 以上"), "{e}");
        assert_eq!(from_toml("").unwrap().line_narrowcast_from, 100_000);
        assert_eq!(
            from_toml("line_narrowcast_from = 0\n")
                .unwrap()
                .line_narrowcast_from,
            0
        );
        let e = from_toml("smtp_host = \"mail.example.jp\"\n").unwrap_err();
        assert_eq!(e.setting, "mail_from");
        let e = from_toml("smtp_host = \"mail.example.jp\"\nmail_from = \"a@example.jp\"\nsmtp_security = \"ssl3\"\n").unwrap_err();
        assert_eq!(e.setting, "smtp_security");
        let c = from_toml("smtp_host = \"mail.example.jp\"\nmail_from = \"a@example.jp\"\nsmtp_security = \"tls\"\n").unwrap();
        assert_eq!(c.smtp.map(|s| s.port), Some(465));
        let e = from_toml("tls_cert = \"a.pem\"\n").unwrap_err();
        assert_eq!(e.setting, "tls_key");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn database_url_chooses_the_backend() {
        let c = from_toml("database_url = \"postgres://db/hiroba\"\n").unwrap();
        assert!(matches!(c.database, DatabaseSetting::Postgres { .. }));
        let c = from_toml("data_dir = \"/srv/h\"\n").unwrap();
        assert!(
            matches!(c.database, DatabaseSetting::Sqlite { ref path, .. } if path == Path::new("/srv/h/hiroba.db"))
        );
    }

    #[test]
    fn key_file_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join(KEY_FILE);
        let key = read_or_create_key(&path, true).unwrap();
        assert_eq!(read_or_create_key(&path, false).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(read_or_create_key(&dir.path().join("none"), false).is_err());
    }
}
