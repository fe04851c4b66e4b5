//! The IMAP poller: takes the unread messages of one mailbox through the mail gateway, exactly as
//! `civitas mail ingest` does for a mail server's pipe, and marks each one read once it is stored. A message
//! that could not be stored stays unread and is taken on the next poll; one that was stored but not marked
//! (the connection dropped in between) is recognised by its Message-ID and not taken twice.
//!
//! The mailbox is named by a URL: `imaps://user:password@host[:993]/Mailbox` (TLS from the start) or
//! `imap://user:password@host[:143]/Mailbox` (STARTTLS, required — except on the loopback interface, where a
//! local server such as Dovecot may be spoken to in plain text). The mailbox defaults to INBOX; user names
//! and passwords are percent-encoded (`desk%40melrose.gov`).

use crate::mailgate::{self, Ingested};
use anyhow::{Context, anyhow};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use store::Db;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// At most this many messages per poll, so that one poll of a flooded mailbox stays short.
pub const BATCH: usize = 200;
const TIMEOUT: Duration = Duration::from_secs(60);

/// How the mailbox is reached.
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain text, then STARTTLS (port 143).
    StartTls,
    /// Plain text: only to a server on the loopback interface.
    Plain,
}

/// A mailbox to poll, parsed from `imap_url`.
#[derive(Clone)]
pub struct Mailbox {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub user: String,
    password: String,
    pub mailbox: String,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.label())
    }
}

impl Mailbox {
    /// Parses an `imap://` or `imaps://` URL; the error says what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => {
                return Err(format!(
                    "must start with imap:// or imaps://, not {other}://"
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("must name the mail server's host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "has a user name or password that is not UTF-8".to_owned())
        };
        let user = decode(url.username())?;
        let password = decode(url.password().unwrap_or(""))?;
        if user.is_empty() {
            return Err(
                "must name the user to sign in as (imaps://user:password@host/INBOX)".into(),
            );
        }
        let mailbox = decode(url.path().trim_start_matches('/'))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let security = match (tls, loopback) {
            (true, _) => Security::Tls,
            (false, true) => Security::Plain,
            (false, false) => Security::StartTls,
        };
        let port = url.port().unwrap_or(if tls { 993 } else { 143 });
        Ok(Self {
            security,
            host,
            port,
            user,
            password,
            mailbox,
        })
    }

    /// The mailbox without its password, for logs and messages.
    pub fn label(&self) -> String {
        let scheme = if self.security == Security::Tls {
            "imaps"
        } else {
            "imap"
        };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.mailbox
        )
    }
}

/// What one poll did: each message taken, by UID, with what became of it.
#[derive(Debug, Default)]
pub struct Report {
    pub taken: Vec<(u32, Ingested)>,
    /// Unread messages left for the next poll (beyond [`BATCH`]).
    pub left: usize,
}

/// Polls `mailbox` once. `Err` when the server could not be reached or a message could not be stored;
/// what was taken before that stays taken.
pub async fn poll(db: &Db, mailbox: &Mailbox, own_address: &str) -> anyhow::Result<Report> {
    let tcp = tokio::time::timeout(
        TIMEOUT,
        TcpStream::connect((mailbox.host.as_str(), mailbox.port)),
    )
    .await
    .map_err(|_| anyhow!("connecting to {} timed out", mailbox.label()))?
    .with_context(|| format!("connecting to {}", mailbox.label()))?;
    match mailbox.security {
        Security::Plain => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            session(db, mailbox, own_address, client).await
        }
        Security::Tls => {
            let tls = tls_connect(&mailbox.host, tcp).await?;
            let mut client = async_imap::Client::new(tls);
            greeting(&mut client).await?;
            session(db, mailbox, own_address, client).await
        }
        Security::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .context("the server refused STARTTLS (use imaps:// for TLS on port 993)")?;
            let tls = tls_connect(&mailbox.host, client.into_inner()).await?;
            // No greeting after STARTTLS.
            session(db, mailbox, own_address, async_imap::Client::new(tls)).await
        }
    }
}

async fn greeting<T>(client: &mut async_imap::Client<T>) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    tokio::time::timeout(TIMEOUT, client.read_response())
        .await
        .map_err(|_| anyhow!("the mail server sent no greeting"))?
        .context("reading the mail server's greeting")?
        .ok_or_else(|| anyhow!("the mail server closed the connection before greeting"))?;
    Ok(())
}

async fn tls_connect(
    host: &str,
    tcp: TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("setting up TLS")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| anyhow!("{host:?} is not a host name TLS can check"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with {host}"))
}

async fn session<T>(
    db: &Db,
    mailbox: &Mailbox,
    own_address: &str,
    client: async_imap::Client<T>,
) -> anyhow::Result<Report>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut session = client
        .login(&mailbox.user, &mailbox.password)
        .await
        .map_err(|(e, _)| anyhow!("signing in to {} failed: {e}", mailbox.label()))?;
    session
        .select(&mailbox.mailbox)
        .await
        .with_context(|| format!("opening the mailbox {:?}", mailbox.mailbox))?;
    let mut unread: Vec<u32> = session
        .uid_search("UNSEEN")
        .await
        .context("listing unread messages")?
        .into_iter()
        .collect();
    unread.sort_unstable();
    let mut report = Report {
        left: unread.len().saturating_sub(BATCH),
        ..Report::default()
    };
    for uid in unread.into_iter().take(BATCH) {
        // PEEK: fetching does not mark it read; only storing it does.
        let raw = {
            let mut fetches = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .with_context(|| format!("fetching message {uid}"))?;
            // The server may add unsolicited FETCH responses for other messages: keep this one's body.
            let mut raw = None;
            while let Some(f) = fetches.next().await {
                let f = f.with_context(|| format!("fetching message {uid}"))?;
                if f.uid == Some(uid) {
                    raw = f.body().map(<[u8]>::to_vec);
                }
            }
            raw
        };
        let Some(raw) = raw else {
            // Expunged meanwhile by another client: nothing to take.
            continue;
        };
        let outcome = mailgate::ingest(db, &raw, own_address)
            .await
            .with_context(|| format!("storing message {uid}; it stays unread for the next poll"))?;
        {
            let mut stored = session
                .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)")
                .await
                .with_context(|| format!("marking message {uid} read"))?;
            while let Some(r) = stored.next().await {
                r.with_context(|| format!("marking message {uid} read"))?;
            }
        }
        report.taken.push((uid, outcome));
    }
    let _ = session.logout().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_urls_are_read_with_safe_defaults() {
        let m = Mailbox::parse("imaps://desk%40melrose.gov:p%40ss@mail.melrose.gov/Service%20Desk")
            .unwrap();
        assert!(m.security == Security::Tls);
        assert_eq!(
            (m.user.as_str(), m.password.as_str(), m.port),
            ("desk@melrose.gov", "p@ss", 993)
        );
        assert_eq!(m.mailbox, "Service Desk");
        assert!(!m.label().contains("p@ss"), "the label hides the password");

        let m = Mailbox::parse("imap://desk:x@mail.melrose.gov").unwrap();
        assert!(
            m.security == Security::StartTls,
            "plain text never leaves the machine"
        );
        assert_eq!((m.port, m.mailbox.as_str()), (143, "INBOX"));
        let m = Mailbox::parse("imap://desk:x@127.0.0.1:1143/INBOX").unwrap();
        assert!(m.security == Security::Plain);

        for (bad, says) in [
            ("pop3://desk:x@host", "must start with imap://"),
            ("imaps://host/INBOX", "must name the user"),
            ("not a url", "is not a URL"),
        ] {
            let e = Mailbox::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
