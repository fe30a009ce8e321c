//! Sends the mail outbox (`hiroba_store::outbox`) over SMTP. Every instance may
//! run it: a claim is a lease, so each mail goes to one worker at a time, and a
//! worker that dies mid-send leaves its mail to be claimed again when the lease
//! ends.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hiroba_store::outbox::{self, MailStatus, OutboxMail};
use hiroba_store::{Db, StoreError};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// A mail is given up after this many failed attempts (about 3 hours with the
/// back-off of 1, 2, 4 ... 60 minutes).
pub const MAX_ATTEMPTS: u32 = 8;

/// Per SMTP command; well inside the lease so a slow send cannot outlive it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a claimed mail stays with its worker.
fn lease() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Plain text; only sensible for a relay on the same machine.
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refuses to
    /// go on without it.
    #[default]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The From header, e.g. `国富町 施設予約 <yoyaku@town.example.jp>`.
    pub from: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// For the demo: mails stay in the outbox marked sent; nothing leaves the machine.
    OutboxOnly,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration mistake: no mail is touched, so none is lost to it.
    #[error("メール送信の設定が正しくありません (mail settings): {0}")]
    Settings(String),
}

/// A ready SMTP client for one run; its pool reuses the connection across mails.
struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    secrets: Vec<String>,
}

impl Smtp {
    fn new(s: &SmtpSettings) -> Result<Self, MailError> {
        let from: Mailbox = s.from.parse().map_err(|e| {
            MailError::Settings(format!("the sender address {:?} is invalid: {e}", s.from))
        })?;
        let tls_error = |e: lettre::transport::smtp::Error| {
            MailError::Settings(format!("TLS for {:?}: {e}", s.host))
        };
        let builder = match s.security {
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host).map_err(tls_error)?
            }
            Security::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(tls_error)?
            }
        }
        .port(s.port)
        .timeout(Some(SMTP_TIMEOUT));
        let mut secrets = Vec::new();
        let builder = match (&s.username, &s.password) {
            (None, None) => builder,
            (Some(user), Some(password)) => {
                if s.security == Security::None && !is_loopback(&s.host) {
                    return Err(MailError::Settings(
                        "a password would cross the network unencrypted; use STARTTLS or TLS"
                            .into(),
                    ));
                }
                secrets.extend([user.clone(), password.clone()]);
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            _ => {
                return Err(MailError::Settings(
                    "give both a user name and a password, or neither".into(),
                ));
            }
        };
        secrets.retain(|s| !s.is_empty());
        Ok(Self {
            transport: builder.build(),
            from,
            secrets,
        })
    }

    /// Keeps credentials out of error texts stored in the outbox.
    fn redact(&self, text: String) -> String {
        self.secrets
            .iter()
            .fold(text, |text, secret| text.replace(secret.as_str(), "***"))
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds the message. The recipient must be a bare address: lettre's parser
/// refuses anything else (line breaks included), and lettre encodes the
/// subject and body (RFC 2047 words, base64 or quoted-printable), so the
/// stored text cannot add headers.
fn message(from: &Mailbox, mail: &OutboxMail) -> Result<Message, String> {
    let to: Address = mail.to_address.trim().parse().map_err(|e| {
        format!("宛先のメールアドレスが正しくありません (invalid recipient address): {e}")
    })?;
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(mail.subject.as_str())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("メールを組み立てられません (cannot build the message): {e}"))
}

/// Sends every mail due at `now`, one after another, and returns how many went
/// out. Failed attempts are recorded on the mail (retried later, or given up);
/// only storage and configuration errors end the run early.
pub async fn send_due(
    db: &Db,
    transport: &Transport,
    now: DateTime<Utc>,
) -> Result<usize, MailError> {
    let smtp = match transport {
        Transport::Smtp(settings) => Some(Smtp::new(settings)?),
        Transport::OutboxOnly => None,
    };
    let mut sent = 0;
    while let Some(mail) = outbox::claim(db, now, lease()).await? {
        let Some(smtp) = &smtp else {
            if outbox::mark_sent(db, mail.id, now).await? {
                sent += 1;
            }
            continue;
        };
        let message = match message(&smtp.from, &mail) {
            Ok(message) => message,
            Err(error) => {
                // Retrying cannot fix the mail itself: give up at once.
                tracing::warn!(mail_id = mail.id, %error, "mail not sendable");
                outbox::mark_failed(db, mail.id, now, &error, 1).await?;
                continue;
            }
        };
        match smtp.transport.send(message).await {
            Ok(_) => {
                if outbox::mark_sent(db, mail.id, now).await? {
                    sent += 1;
                } else {
                    tracing::warn!(mail_id = mail.id, "mail sent after its lease ran out");
                }
            }
            Err(e) => {
                let error = smtp.redact(e.to_string());
                let status = outbox::mark_failed(db, mail.id, now, &error, MAX_ATTEMPTS).await?;
                if status == Some(MailStatus::Failed) {
                    tracing::error!(mail_id = mail.id, %error, "mail given up");
                } else {
                    tracing::warn!(mail_id = mail.id, %error, "mail not sent; will retry");
                }
            }
        }
    }
    Ok(sent)
}

/// Sends due mail now and then every `every` until the task is aborted.
pub fn spawn(db: Db, transport: Transport, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match send_due(&db, &transport, Utc::now()).await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "mail sent"),
                Err(e) => tracing::error!(error = %e, "mail run failed; will retry next time"),
            }
        }
    })
}
