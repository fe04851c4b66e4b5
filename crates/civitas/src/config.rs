//! One typed configuration: defaults, then a TOML file, then `CIVITAS_*` environment variables. A bad value
//! is an error naming the key and its source, never a silent default.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: String,
    /// None: SQLite in the data directory.
    pub database_url: Option<String>,
    pub region_name: String,
    pub secure_cookies: bool,
    pub log_format: LogFormat,
    pub max_connections: u32,
    /// SQLite: the direct connections beside sqlx's for the hottest path (opening tickets).
    pub sqlite_direct: bool,
    /// Run the background job runner in this process.
    pub jobs: bool,
    /// Days finished jobs are kept (for operators) before they are purged; at least 1.
    pub job_retention_days: i64,
    /// Outgoing mail server for notifications (`smtp://host:port`, `smtps://user:pass@host`); none: no mail.
    pub smtp_url: Option<String>,
    /// The From address of notifications; replies to it come back through `civitas mail ingest`.
    pub mail_from: String,
    /// The address people reach Civitas at, for links in mail (default: `http://` + bind).
    pub public_url: Option<String>,
    /// A mailbox to poll for incoming mail (`imaps://user:password@host/INBOX`); none: mail arrives only
    /// through `civitas mail ingest`.
    pub imap_url: Option<String>,
    /// The audit log's key (HMAC-SHA-256, at least 32 characters). None: the key file `audit.key` in the
    /// data directory, created at first start.
    pub audit_key: Option<String>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed; none: the socket's peer is
    /// the client, whatever the header says.
    pub trusted_proxies: Vec<String>,
    /// A listener of its own for `/metrics` (then not served on `bind`).
    pub metrics_bind: Option<String>,
    /// When set, `/metrics` needs `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("database_url", &self.database_url.as_deref().map(redact))
            .field("region_name", &self.region_name)
            .field("secure_cookies", &self.secure_cookies)
            .field("log_format", &self.log_format)
            .field("max_connections", &self.max_connections)
            .field("sqlite_direct", &self.sqlite_direct)
            .field("jobs", &self.jobs)
            .field("job_retention_days", &self.job_retention_days)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact))
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("imap_url", &self.imap_url.as_deref().map(redact))
            .field("audit_key", &self.audit_key.as_ref().map(|_| "***"))
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_bind", &self.metrics_bind)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Hides a password in a database URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("civitas-data"),
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            region_name: "North Shore Shared IT Region".into(),
            secure_cookies: false,
            log_format: LogFormat::Text,
            max_connections: 16,
            sqlite_direct: true,
            jobs: true,
            job_retention_days: 7,
            smtp_url: None,
            mail_from: "Civitas Service Desk <servicedesk@localhost>".into(),
            public_url: None,
            imap_url: None,
            audit_key: None,
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            metrics_token: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    bind: Option<String>,
    database_url: Option<String>,
    region_name: Option<String>,
    secure_cookies: Option<bool>,
    log_format: Option<LogFormat>,
    max_connections: Option<u32>,
    sqlite_direct: Option<bool>,
    jobs: Option<bool>,
    job_retention_days: Option<i64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    public_url: Option<String>,
    imap_url: Option<String>,
    audit_key: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    metrics_bind: Option<String>,
    metrics_token: Option<String>,
}

pub const EXAMPLE: &str = r#"# Civitas configuration. Every key is optional; environment variables (CIVITAS_<KEY>) override the file.

# Where the SQLite database and other local files live.
data_dir = "civitas-data"

# Address and port to listen on. Put a TLS-terminating proxy in front for anything but a laptop.
bind = "127.0.0.1:8080"

# Leave unset for the embedded SQLite database in data_dir. A postgres:// URL switches to PostgreSQL:
# database_url = "postgres://civitas:secret@127.0.0.1:5432/civitas"

# Shown in the header of every page.
region_name = "North Shore Shared IT Region"

# Mark cookies Secure: set to true whenever Civitas is reached over HTTPS.
secure_cookies = false

# text for people, json for log collectors.
log_format = "text"

# Database connections in the pool.
max_connections = 16

# SQLite: connections of Civitas' own beside the pool for the busiest path (opening tickets). Turn off
# only to compare, or if they ever misbehave.
sqlite_direct = true

# Run background jobs (escalations, notifications, clean-ups) in this process.
jobs = true

# Days finished background jobs are kept for inspection before they are deleted (at least 1).
job_retention_days = 7

# Outgoing mail for notifications. Leave unset to send no mail.
# smtp_url = "smtp://127.0.0.1:25"

# The From address of notifications. Point the mail server's delivery for it at `civitas mail ingest`.
mail_from = "Civitas Service Desk <servicedesk@localhost>"

# The address people reach Civitas at, for links in mail.
# public_url = "https://it.example.gov"

# A mailbox the desk polls every minute for incoming mail, as an alternative to delivering through
# `civitas mail ingest`. imaps:// is TLS on port 993; imap:// uses STARTTLS on port 143 (plain text only to a
# server on 127.0.0.1). Percent-encode an @ in the user name: desk%40town.example.gov.
# imap_url = "imaps://desk%40town.example.gov:secret@mail.town.example.gov/INBOX"

# The audit log's key: entries are sealed with HMAC-SHA-256 under it, so someone who can write the database
# but lacks the key cannot rewrite the log undetected. At least 32 characters; keep it out of the database's
# backups and give `civitas audit verify` the same one. Unset: the file audit.key in data_dir (created at
# first start, readable by its owner only).
# audit_key = "64 random hex digits, e.g. from: openssl rand -hex 32"

# Proxies in front of Civitas (addresses or CIDR ranges) whose X-Forwarded-For header is believed. Sign-in
# throttling counts failures per client address: with none listed the connection's own address is the
# client and the header is ignored, since any client can write it. List your load balancer's addresses here.
trusted_proxies = []
# trusted_proxies = ["10.0.0.0/8", "192.0.2.7"]

# Serve /metrics on a listener of its own (and not on bind), e.g. an address only monitoring reaches.
# metrics_bind = "127.0.0.1:9090"

# Require `Authorization: Bearer <token>` on /metrics (at least 16 characters).
# metrics_token = "a-long-random-string"
"#;

/// Writes a new random key to `path`, readable and writable by its owner only; fails if the file exists.
fn new_key_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    let bytes: [u8; 32] = rand::random();
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating the audit key file {}", path.display()))?;
    writeln!(f, "{text}")
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing the audit key file {}", path.display()))?;
    Ok(text)
}

fn env_bool(key: &str, raw: &str) -> anyhow::Result<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{key}: must be true or false, not {raw:?}"),
    }
}

impl Config {
    /// Loads the file (if given, or ./civitas.toml if it exists) and then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut c = Self::default();
        let default_file = PathBuf::from("civitas.toml");
        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None if default_file.exists() => Some(default_file),
            None => None,
        };
        if let Some(p) = path {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            let f: FileConfig = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.message()))
                .with_context(|| format!("in {}", p.display()))?;
            c.apply_file(f);
        }
        c.apply_env(|k| std::env::var(k).ok())?;
        c.validate()?;
        Ok(c)
    }

    fn apply_file(&mut self, f: FileConfig) {
        if let Some(v) = f.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = f.bind {
            self.bind = v;
        }
        if let Some(v) = f.database_url {
            self.database_url = Some(v);
        }
        if let Some(v) = f.region_name {
            self.region_name = v;
        }
        if let Some(v) = f.secure_cookies {
            self.secure_cookies = v;
        }
        if let Some(v) = f.log_format {
            self.log_format = v;
        }
        if let Some(v) = f.max_connections {
            self.max_connections = v;
        }
        if let Some(v) = f.sqlite_direct {
            self.sqlite_direct = v;
        }
        if let Some(v) = f.jobs {
            self.jobs = v;
        }
        if let Some(v) = f.job_retention_days {
            self.job_retention_days = v;
        }
        if let Some(v) = f.smtp_url {
            self.smtp_url = Some(v);
        }
        if let Some(v) = f.mail_from {
            self.mail_from = v;
        }
        if let Some(v) = f.public_url {
            self.public_url = Some(v);
        }
        if let Some(v) = f.imap_url {
            self.imap_url = Some(v);
        }
        if let Some(v) = f.audit_key {
            self.audit_key = Some(v);
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = v;
        }
        if let Some(v) = f.metrics_bind {
            self.metrics_bind = Some(v);
        }
        if let Some(v) = f.metrics_token {
            self.metrics_token = Some(v);
        }
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = get("CIVITAS_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("CIVITAS_BIND") {
            self.bind = v;
        }
        if let Some(v) = get("CIVITAS_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.database_url = Some(v);
        }
        if let Some(v) = get("CIVITAS_REGION_NAME") {
            self.region_name = v;
        }
        if let Some(v) = get("CIVITAS_SECURE_COOKIES") {
            self.secure_cookies = env_bool("CIVITAS_SECURE_COOKIES", &v)?;
        }
        if let Some(v) = get("CIVITAS_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => bail!("CIVITAS_LOG_FORMAT: must be text or json, not {v:?}"),
            };
        }
        if let Some(v) = get("CIVITAS_MAX_CONNECTIONS") {
            self.max_connections = v.parse().map_err(|_| {
                anyhow::anyhow!("CIVITAS_MAX_CONNECTIONS: must be a whole number, not {v:?}")
            })?;
        }
        if let Some(v) = get("CIVITAS_SQLITE_DIRECT") {
            self.sqlite_direct = env_bool("CIVITAS_SQLITE_DIRECT", &v)?;
        }
        if let Some(v) = get("CIVITAS_JOBS") {
            self.jobs = env_bool("CIVITAS_JOBS", &v)?;
        }
        if let Some(v) = get("CIVITAS_JOB_RETENTION_DAYS") {
            self.job_retention_days = v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "CIVITAS_JOB_RETENTION_DAYS: must be a whole number of days, not {v:?}"
                )
            })?;
        }
        if let Some(v) = get("CIVITAS_SMTP_URL") {
            self.smtp_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("CIVITAS_MAIL_FROM") {
            self.mail_from = v;
        }
        if let Some(v) = get("CIVITAS_PUBLIC_URL") {
            self.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("CIVITAS_IMAP_URL") {
            self.imap_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("CIVITAS_AUDIT_KEY") {
            self.audit_key = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("CIVITAS_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = get("CIVITAS_METRICS_BIND") {
            self.metrics_bind = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("CIVITAS_METRICS_TOKEN") {
            self.metrics_token = Some(v).filter(|v| !v.is_empty());
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            bail!(
                "bind: must be an address and port such as 127.0.0.1:8080, not {:?}",
                self.bind
            );
        }
        if let Some(u) = &self.database_url
            && !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
        {
            bail!("database_url: must start with sqlite:, postgres:// or postgresql://");
        }
        if self.max_connections == 0 || self.max_connections > 1000 {
            bail!("max_connections: must be between 1 and 1000");
        }
        if !(1..=3650).contains(&self.job_retention_days) {
            bail!("job_retention_days: must be between 1 and 3650");
        }
        if self.region_name.trim().is_empty() {
            bail!("region_name: must not be empty");
        }
        if let Some(u) = &self.smtp_url
            && !(u.starts_with("smtp://") || u.starts_with("smtps://"))
        {
            bail!("smtp_url: must start with smtp:// or smtps://");
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            bail!(
                "mail_from: must be an address such as \"Service Desk <desk@town.example.gov>\", not {:?}",
                self.mail_from
            );
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            bail!("public_url: must start with http:// or https://");
        }
        if let Some(u) = &self.imap_url
            && let Err(e) = crate::imap::Mailbox::parse(u)
        {
            bail!("imap_url: {e}");
        }
        if let Some(k) = &self.audit_key
            && let Err(e) = domain::audit::AuditKey::parse(k)
        {
            bail!("audit_key: {e}");
        }
        self.trusted_proxies()?;
        if let Some(b) = &self.metrics_bind
            && b.parse::<std::net::SocketAddr>().is_err()
        {
            bail!("metrics_bind: must be an address and port such as 127.0.0.1:9090, not {b:?}");
        }
        if self.metrics_bind.is_some() && self.metrics_bind == Some(self.bind.clone()) {
            bail!("metrics_bind: must differ from bind");
        }
        if let Some(t) = &self.metrics_token
            && (t.chars().count() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            bail!("metrics_token: must be at least 16 characters, without spaces");
        }
        Ok(())
    }

    /// Where the audit key is kept when `audit_key` is not set.
    pub fn audit_key_file(&self) -> PathBuf {
        self.data_dir.join("audit.key")
    }

    /// The audit key: `audit_key` when set, else the key file in the data directory — created (64 random
    /// hex digits, mode 0600) when `create` and it does not exist yet.
    pub fn audit_key(&self, create: bool) -> anyhow::Result<domain::audit::AuditKey> {
        if let Some(k) = &self.audit_key {
            return domain::audit::AuditKey::parse(k)
                .map_err(|e| anyhow::anyhow!("audit_key: {e}"));
        }
        let path = self.audit_key_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                #[cfg(unix)]
                if let Ok(m) = std::fs::metadata(&path) {
                    use std::os::unix::fs::PermissionsExt;
                    if m.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(
                            file = %path.display(),
                            "the audit key file is readable by others than its owner: chmod 600 it"
                        );
                    }
                }
                domain::audit::AuditKey::parse(&text)
                    .map_err(|e| anyhow::anyhow!("audit key file {}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let text = new_key_file(&path)?;
                tracing::info!(file = %path.display(), "created the audit key file");
                domain::audit::AuditKey::parse(&text)
                    .map_err(|e| anyhow::anyhow!("audit key file {}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "audit_key: not set, and there is no key file {} (set audit_key / CIVITAS_AUDIT_KEY to the \
                 installation's key)",
                path.display()
            ),
            Err(e) => {
                Err(e).with_context(|| format!("reading the audit key file {}", path.display()))
            }
        }
    }

    /// The parsed `trusted_proxies` (checked by [`Config::validate`]).
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<domain::net::Cidr>> {
        self.trusted_proxies
            .iter()
            .map(|raw| {
                domain::net::Cidr::parse("trusted_proxies", raw)
                    .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))
            })
            .collect()
    }

    /// The mailbox to poll, if one is configured (checked by [`Config::validate`]).
    pub fn imap_mailbox(&self) -> Option<crate::imap::Mailbox> {
        self.imap_url
            .as_deref()
            .and_then(|u| crate::imap::Mailbox::parse(u).ok())
    }

    /// The desk's own address (from `mail_from`), lower-case: mail from it is a loop.
    pub fn own_address(&self) -> String {
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.to_string().to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// Where links in mail point.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The database URL in effect: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/civitas.db", self.data_dir.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_and_bad_values_name_the_key() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "CIVITAS_BIND").then(|| "0.0.0.0:9000".to_owned()))
            .unwrap();
        assert_eq!(c.bind, "0.0.0.0:9000");
        let err = c
            .apply_env(|k| (k == "CIVITAS_SECURE_COOKIES").then(|| "maybe".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("CIVITAS_SECURE_COOKIES"));
        c.bind = "nonsense".into();
        assert!(c.validate().unwrap_err().to_string().contains("bind"));
    }

    #[test]
    fn the_example_parses_and_unknown_keys_are_refused() {
        let f: FileConfig = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(f.bind.as_deref(), Some("127.0.0.1:8080"));
        assert!(toml::from_str::<FileConfig>("bnid = 1").is_err());
    }

    #[test]
    fn job_retention_is_whole_days_of_at_least_one() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "CIVITAS_JOB_RETENTION_DAYS").then(|| "30".to_owned()))
            .unwrap();
        assert_eq!(c.job_retention_days, 30);
        let err = c
            .apply_env(|k| (k == "CIVITAS_JOB_RETENTION_DAYS").then(|| "a week".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("CIVITAS_JOB_RETENTION_DAYS"));
        c.job_retention_days = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("job_retention_days")
        );
    }

    #[test]
    fn trusted_proxies_and_metrics_settings_are_checked_by_name() {
        let mut c = Config::default();
        c.apply_env(|k| {
            (k == "CIVITAS_TRUSTED_PROXIES").then(|| "10.0.0.0/8, 192.0.2.7".to_owned())
        })
        .unwrap();
        assert_eq!(c.trusted_proxies().unwrap().len(), 2);
        c.validate().unwrap();
        c.trusted_proxies = vec!["10.0.0.0/40".into()];
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("trusted_proxies:")
        );
        let mut c = Config {
            metrics_bind: Some("nowhere".into()),
            ..Config::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("metrics_bind:")
        );
        c.metrics_bind = Some(c.bind.clone());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("metrics_bind:")
        );
        c.metrics_bind = Some("127.0.0.1:9090".into());
        c.metrics_token = Some("short".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("metrics_token:")
        );
        c.metrics_token = Some("a-long-enough-metrics-token".into());
        c.validate().unwrap();
        assert!(
            !format!("{c:?}").contains("a-long-enough"),
            "the token is not logged"
        );
        let f: FileConfig = toml::from_str(
            "trusted_proxies = [\"10.0.0.0/8\"]\nmetrics_bind = \"127.0.0.1:9090\"\nmetrics_token = \"0123456789abcdef\"",
        )
        .unwrap();
        let mut c = Config::default();
        c.apply_file(f);
        assert_eq!(c.metrics_bind.as_deref(), Some("127.0.0.1:9090"));
        c.validate().unwrap();
    }

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact("postgres://civitas:s3cret@db:5432/x"),
            "postgres://civitas:***@db:5432/x"
        );
        let c = Config {
            database_url: Some("postgres://u:pw@h/d".into()),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("pw@"));
    }

    #[test]
    fn the_audit_key_file_is_created_once_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let err = c.audit_key(false).unwrap_err().to_string();
        assert!(
            err.contains("audit_key") && err.contains("audit.key"),
            "{err}"
        );
        let k = c.audit_key(true).unwrap();
        assert_eq!(c.audit_key(false).unwrap(), k, "the file is read back");
        assert_eq!(c.audit_key(true).unwrap(), k, "and never replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(c.audit_key_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let set = Config {
            audit_key: Some("s".repeat(40)),
            ..c.clone()
        };
        assert_ne!(
            set.audit_key(false).unwrap(),
            k,
            "audit_key wins over the file"
        );
        assert!(!format!("{set:?}").contains("ssss"), "and is never shown");
        let short = Config {
            audit_key: Some("short".into()),
            ..c
        };
        assert!(
            short
                .validate()
                .unwrap_err()
                .to_string()
                .contains("audit_key")
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const KEYS: [&str; 15] = [
            "CIVITAS_DATA_DIR",
            "CIVITAS_BIND",
            "CIVITAS_DATABASE_URL",
            "CIVITAS_REGION_NAME",
            "CIVITAS_SECURE_COOKIES",
            "CIVITAS_LOG_FORMAT",
            "CIVITAS_MAX_CONNECTIONS",
            "CIVITAS_SQLITE_DIRECT",
            "CIVITAS_JOBS",
            "CIVITAS_SMTP_URL",
            "CIVITAS_MAIL_FROM",
            "CIVITAS_PUBLIC_URL",
            "CIVITAS_IMAP_URL",
            "CIVITAS_AUDIT_KEY",
            "CIVITAS_NOT_A_KEY",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any value of any variable: accepted, or an error that names the variable or its key.
            #[test]
            fn any_environment_value_is_taken_or_named(i in 0..KEYS.len(), value in any::<String>()) {
                let key = KEYS[i];
                let mut c = Config::default();
                let result = c
                    .apply_env(|k| (k == key).then(|| value.clone()))
                    .and_then(|()| c.validate());
                if let Err(e) = result {
                    let msg = format!("{e:#}");
                    let short = key.trim_start_matches("CIVITAS_").to_ascii_lowercase();
                    prop_assert!(msg.contains(key) || msg.contains(&short), "{key}={value:?}: {msg}");
                }
            }

            /// Any file: a configuration, or an error naming the file.
            #[test]
            fn any_configuration_file_is_read_or_named(
                text in prop_oneof![
                    any::<String>(),
                    "(bind|data_dir|max_connections|jobs|audit_key|region_name|bnid) = (\"[^\"]{0,20}\"|[0-9]{1,12}|true|\\[\\]|\\{)\n{0,3}",
                ],
            ) {
                let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
                let path = dir.path().join("civitas.toml");
                std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
                if let Err(e) = Config::load(Some(&path)) {
                    let msg = format!("{e:#}");
                    prop_assert!(
                        msg.contains("civitas.toml") || msg.contains(':'),
                        "{text:?}: {msg}"
                    );
                }
            }
        }
    }
}
