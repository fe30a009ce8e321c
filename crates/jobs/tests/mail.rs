//! The mail outbox and its SMTP worker, on both databases, against a tiny SMTP
//! sink that records what it receives and can be told to refuse mail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{Duration, Utc};
use hiroba_jobs::mail::{self, MailError, Security, SmtpSettings, Transport};
use hiroba_store::Db;
use hiroba_store::outbox::{self, Mail, MailStatus};
use hiroba_store::testing::backends;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const FROM: &str = "国富町 施設予約 <yoyaku@town.example.jp>";

// ---- SMTP sink ----

#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

#[derive(Default)]
struct SinkState {
    /// When set, MAIL FROM is answered with this reply.
    refuse_with: Option<String>,
    messages: Vec<Received>,
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<SinkState>>);

impl Sink {
    async fn start() -> (Sink, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Sink::default();
        let accepting = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(accepting.clone().session(stream));
            }
        });
        (sink, port)
    }

    fn refuse(&self, reply: Option<&str>) {
        self.0.lock().unwrap().refuse_with = reply.map(str::to_owned);
    }

    fn messages(&self) -> Vec<Received> {
        self.0.lock().unwrap().messages.clone()
    }

    async fn session(self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        write.write_all(b"220 sink ESMTP\r\n").await?;
        let (mut from, mut rcpt) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-sink\r\n250 AUTH PLAIN LOGIN".to_owned()
            } else if upper.starts_with("AUTH PLAIN") {
                "235 2.7.0 ok".to_owned()
            } else if upper.starts_with("MAIL FROM:") {
                match self.0.lock().unwrap().refuse_with.clone() {
                    Some(reply) => reply,
                    None => {
                        from = command["MAIL FROM:".len()..].to_owned();
                        rcpt.clear();
                        "250 ok".to_owned()
                    }
                }
            } else if upper.starts_with("RCPT TO:") {
                rcpt.push(command["RCPT TO:".len()..].to_owned());
                "250 ok".to_owned()
            } else if upper == "DATA" {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if read.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Undo dot-stuffing.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                self.0.lock().unwrap().messages.push(Received {
                    mail_from: std::mem::take(&mut from),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                });
                "250 queued".to_owned()
            } else if upper == "RSET" || upper == "NOOP" {
                "250 ok".to_owned()
            } else if upper == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                "502 not implemented".to_owned()
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

fn smtp(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from: FROM.into(),
    }
}

// ---- decoding what the sink received ----

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Header lines unfolded, and the body.
fn split(data: &str) -> (Vec<String>, &str) {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let mut headers: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => headers.push(line.to_owned()),
        }
    }
    (headers, body)
}

fn header<'a>(headers: &'a [String], name: &str) -> &'a str {
    let prefix = format!("{}: ", name.to_ascii_lowercase());
    headers
        .iter()
        .find(|h| h.to_ascii_lowercase().starts_with(&prefix))
        .map(|h| &h[prefix.len()..])
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// RFC 2047: adjacent encoded words join without the white space between them.
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut previous_encoded = false;
    for (i, word) in value.split_whitespace().enumerate() {
        let encoded = word
            .to_ascii_lowercase()
            .starts_with("=?utf-8?b?")
            .then(|| word[10..].strip_suffix("?=").unwrap());
        if i > 0 && !(previous_encoded && encoded.is_some()) {
            out.push(b' ');
        }
        match encoded {
            Some(text) => out.extend(b64(text)),
            None => out.extend(word.as_bytes()),
        }
        previous_encoded = encoded.is_some();
    }
    String::from_utf8(out).unwrap()
}

async fn enqueue(db: &Db, mail: &Mail) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = outbox::enqueue(&mut tx, mail).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn mail_to(to: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "ご予約を受け付けました".into(),
        body: "本文".into(),
    }
}

// ---- stories ----

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_mail() {
    for t in backends().await {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        outbox::enqueue(&mut tx, &mail_to("taro@example.jp"))
            .await
            .unwrap();
        drop(tx); // rolled back
        assert!(
            outbox::recent(db, 10).await.unwrap().is_empty(),
            "{}",
            t.label()
        );

        let id = enqueue(db, &mail_to("hanako@example.jp")).await;
        let all = outbox::recent(db, 10).await.unwrap();
        assert_eq!(all.len(), 1, "{}", t.label());
        assert_eq!(all[0].id, id);
        assert_eq!(all[0].status, MailStatus::Pending);
        assert_eq!(all[0].attempts, 0);
        assert_eq!(all[0].to_address, "hanako@example.jp");
    }
}

#[tokio::test]
async fn a_japanese_mail_reaches_the_server_with_encoded_headers() {
    let (sink, port) = Sink::start().await;
    let transport = Transport::Smtp(smtp(port));
    for t in backends().await {
        let db = &t.db;
        let subject = "【国富町】ご予約を受け付けました（体育館 4月1日）";
        let body = "国富 太郎 様\n\n次のとおりご予約を受け付けました。\n.行頭のドットも届きます。\n施設: 国富町総合体育館\n";
        let id = enqueue(
            db,
            &Mail {
                to: "taro@example.jp".into(),
                subject: subject.into(),
                body: body.into(),
            },
        )
        .await;
        let before = sink.messages().len();
        let now = Utc::now();
        assert_eq!(
            mail::send_due(db, &transport, now).await.unwrap(),
            1,
            "{}",
            t.label()
        );

        let messages = sink.messages();
        assert_eq!(messages.len(), before + 1);
        let got = &messages[before];
        assert!(
            got.mail_from.contains("<yoyaku@town.example.jp>"),
            "{got:?}"
        );
        assert_eq!(got.rcpt_to.len(), 1);
        assert!(got.rcpt_to[0].contains("<taro@example.jp>"), "{got:?}");
        // Everything on the wire is 7-bit: Japanese travels encoded.
        assert!(got.data.is_ascii(), "{}", got.data);
        let (headers, encoded_body) = split(&got.data);
        assert_eq!(decode_words(header(&headers, "Subject")), subject);
        assert_eq!(decode_words(header(&headers, "From")), FROM);
        assert_eq!(header(&headers, "To"), "taro@example.jp");
        assert!(header(&headers, "Content-Type").starts_with("text/plain; charset=utf-8"));
        assert_eq!(header(&headers, "Content-Transfer-Encoding"), "base64");
        header(&headers, "Date");
        let decoded = String::from_utf8(b64(&encoded_body.replace("\r\n", ""))).unwrap();
        assert_eq!(decoded, body.replace('\n', "\r\n"));

        let stored = outbox::find(db, id).await.unwrap();
        assert_eq!(stored.status, MailStatus::Sent, "{}", t.label());
        assert_eq!(stored.attempts, 1);
        assert!(stored.sent_at.is_some());
        assert!(stored.locked_until.is_none());
        // Nothing more is due.
        assert_eq!(mail::send_due(db, &transport, now).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn stored_text_cannot_add_headers_or_recipients() {
    let (sink, port) = Sink::start().await;
    let transport = Transport::Smtp(smtp(port));
    for t in backends().await {
        let db = &t.db;
        // A line break in the subject is encoded, not obeyed.
        let sneaky = Mail {
            to: "taro@example.jp".into(),
            subject: "ご予約\r\nBcc: evil@example.com".into(),
            body: "本文".into(),
        };
        let ok = enqueue(db, &sneaky).await;
        // A line break in the address makes the mail undeliverable at once.
        let bad = enqueue(db, &mail_to("taro@example.jp\r\nBcc: evil@example.com")).await;
        let not_address = enqueue(db, &mail_to("国富 太郎")).await;
        let before = sink.messages().len();
        let now = Utc::now();
        assert_eq!(
            mail::send_due(db, &transport, now).await.unwrap(),
            1,
            "{}",
            t.label()
        );

        let messages = sink.messages();
        assert_eq!(messages.len(), before + 1);
        let got = &messages[before];
        assert_eq!(got.rcpt_to.len(), 1);
        assert!(got.rcpt_to[0].contains("<taro@example.jp>"));
        let (headers, _) = split(&got.data);
        assert!(
            !headers
                .iter()
                .any(|h| h.to_ascii_lowercase().starts_with("bcc")),
            "{headers:?}"
        );
        // The line break travels inside an encoded word of the Subject.
        assert_eq!(decode_words(header(&headers, "Subject")), sneaky.subject);
        assert_eq!(outbox::find(db, ok).await.unwrap().status, MailStatus::Sent);

        for id in [bad, not_address] {
            let stored = outbox::find(db, id).await.unwrap();
            assert_eq!(stored.status, MailStatus::Failed, "{}", t.label());
            assert_eq!(stored.attempts, 1);
            assert!(
                stored
                    .last_error
                    .contains("宛先のメールアドレスが正しくありません"),
                "{}",
                stored.last_error
            );
        }
        // Failed mails are not tried again.
        assert_eq!(
            mail::send_due(db, &transport, now + Duration::days(1))
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn a_refusing_server_delays_the_mail_until_it_recovers() {
    let (sink, port) = Sink::start().await;
    let transport = Transport::Smtp(smtp(port));
    for t in backends().await {
        let db = &t.db;
        sink.refuse(Some("451 4.3.0 try again later"));
        let id = enqueue(db, &mail_to("taro@example.jp")).await;
        let before = sink.messages().len();
        let now = Utc::now();
        assert_eq!(
            mail::send_due(db, &transport, now).await.unwrap(),
            0,
            "{}",
            t.label()
        );

        let stored = outbox::find(db, id).await.unwrap();
        assert_eq!(stored.status, MailStatus::Pending, "{}", t.label());
        assert_eq!(stored.attempts, 1);
        assert!(stored.last_error.contains("451"), "{}", stored.last_error);
        let delay = stored.due_at - now;
        assert!(
            delay > Duration::seconds(59) && delay <= Duration::minutes(1),
            "{delay}"
        );
        assert!(stored.locked_until.is_none());

        // Not due yet: untouched even though the server is back.
        sink.refuse(None);
        assert_eq!(
            mail::send_due(db, &transport, now + Duration::seconds(30))
                .await
                .unwrap(),
            0
        );
        assert_eq!(outbox::find(db, id).await.unwrap().attempts, 1);

        let later = now + Duration::seconds(61);
        assert_eq!(
            mail::send_due(db, &transport, later).await.unwrap(),
            1,
            "{}",
            t.label()
        );
        let stored = outbox::find(db, id).await.unwrap();
        assert_eq!(stored.status, MailStatus::Sent);
        assert_eq!(stored.attempts, 2);
        assert_eq!(sink.messages().len(), before + 1);
    }
}

#[tokio::test]
async fn failures_back_off_exponentially_then_give_up() {
    for t in backends().await {
        let db = &t.db;
        let id = enqueue(db, &mail_to("taro@example.jp")).await;
        let mut now = Utc::now();
        let long_error = "x".repeat(2000);
        for (attempt, delay) in [(1, 1), (2, 2), (3, 4)] {
            let claimed = outbox::claim(db, now, Duration::minutes(5))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(claimed.id, id);
            assert_eq!(claimed.status, MailStatus::Sending);
            let status = outbox::mark_failed(db, id, now, &long_error, 4)
                .await
                .unwrap();
            assert_eq!(status, Some(MailStatus::Pending), "{}", t.label());
            let stored = outbox::find(db, id).await.unwrap();
            assert_eq!(stored.attempts, attempt);
            assert_eq!(stored.last_error.chars().count(), outbox::MAX_ERROR_CHARS);
            let wait = stored.due_at - now;
            assert!(
                wait > Duration::minutes(delay) - Duration::seconds(1)
                    && wait <= Duration::minutes(delay),
                "{wait}"
            );
            assert!(
                outbox::claim(db, now, Duration::minutes(5))
                    .await
                    .unwrap()
                    .is_none()
            );
            now = stored.due_at;
        }
        outbox::claim(db, now, Duration::minutes(5))
            .await
            .unwrap()
            .unwrap();
        let status = outbox::mark_failed(db, id, now, "550 no such user", 4)
            .await
            .unwrap();
        assert_eq!(status, Some(MailStatus::Failed), "{}", t.label());
        assert_eq!(outbox::find(db, id).await.unwrap().attempts, 4);
        assert!(
            outbox::claim(db, now + Duration::days(1), Duration::minutes(5))
                .await
                .unwrap()
                .is_none()
        );
        // A mail nobody holds cannot be marked.
        assert_eq!(
            outbox::mark_failed(db, id, now, "late", 4).await.unwrap(),
            None
        );
        assert!(!outbox::mark_sent(db, id, now).await.unwrap());
    }
    assert_eq!(outbox::backoff(7), Duration::minutes(60));
    assert_eq!(outbox::backoff(30), Duration::minutes(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_share_a_mail() {
    for t in backends().await {
        for round in 0..3 {
            let mut ids = HashSet::new();
            for _ in 0..5 {
                ids.insert(enqueue(&t.db, &mail_to("taro@example.jp")).await);
            }
            let now = Utc::now();
            let start = Arc::new(tokio::sync::Barrier::new(10));
            let claimers: Vec<_> = (0..10)
                .map(|_| {
                    let (db, start) = (t.db.clone(), start.clone());
                    tokio::spawn(async move {
                        start.wait().await;
                        outbox::claim(&db, now, Duration::minutes(5))
                            .await
                            .unwrap()
                            .map(|m| m.id)
                    })
                })
                .collect();
            let mut claimed = Vec::new();
            for claimer in claimers {
                claimed.extend(claimer.await.unwrap());
            }
            // Whatever a claimer gave up on in a lost race is still there to take.
            while let Some(m) = outbox::claim(&t.db, now, Duration::minutes(5))
                .await
                .unwrap()
            {
                claimed.push(m.id);
            }
            let unique: HashSet<i64> = claimed.iter().copied().collect();
            assert_eq!(
                unique.len(),
                claimed.len(),
                "{} round {round}: {claimed:?}",
                t.label()
            );
            assert_eq!(unique, ids, "{} round {round}", t.label());
        }
    }
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again() {
    for t in backends().await {
        let db = &t.db;
        let id = enqueue(db, &mail_to("taro@example.jp")).await;
        let now = Utc::now();
        let lease = Duration::minutes(5);
        let first = outbox::claim(db, now, lease).await.unwrap().unwrap();
        assert_eq!(first.id, id);
        let until = first.locked_until.unwrap();
        assert!(
            until - now > Duration::seconds(299) && until - now <= lease,
            "{}",
            t.label()
        );
        // The worker "crashed": within the lease nobody else takes it ...
        assert!(
            outbox::claim(db, now + Duration::minutes(4), lease)
                .await
                .unwrap()
                .is_none()
        );
        // ... after it, another worker does.
        let later = now + Duration::minutes(6);
        let second = outbox::claim(db, later, lease).await.unwrap().unwrap();
        assert_eq!(second.id, id, "{}", t.label());
        assert_eq!(second.status, MailStatus::Sending);
        assert!(outbox::mark_sent(db, id, later).await.unwrap());
        let stored = outbox::find(db, id).await.unwrap();
        assert_eq!(stored.status, MailStatus::Sent);
        assert!(stored.sent_at.is_some());
        assert!(
            outbox::claim(db, later + Duration::hours(1), lease)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn outbox_only_marks_mail_sent_without_a_server() {
    for t in backends().await {
        let db = &t.db;
        let a = enqueue(db, &mail_to("taro@example.jp")).await;
        let b = enqueue(db, &mail_to("hanako@example.jp")).await;
        let sent = mail::send_due(db, &Transport::OutboxOnly, Utc::now())
            .await
            .unwrap();
        assert_eq!(sent, 2, "{}", t.label());
        for id in [a, b] {
            let stored = outbox::find(db, id).await.unwrap();
            assert_eq!(stored.status, MailStatus::Sent);
            assert!(stored.sent_at.is_some());
        }
        let recent = outbox::recent(db, 10).await.unwrap();
        assert_eq!(recent.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(outbox::recent(db, 1).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn credentials_stay_out_of_logs_and_the_outbox() {
    let (sink, port) = Sink::start().await;
    let settings = SmtpSettings {
        username: Some("yoyaku-user".into()),
        password: Some("hunter2-secret".into()),
        ..smtp(port)
    };
    assert!(!format!("{settings:?}").contains("hunter2-secret"));
    let transport = Transport::Smtp(settings.clone());
    for t in backends().await {
        let db = &t.db;
        // A server that echoes what it was told must not get it stored.
        sink.refuse(Some("451 4.7.0 rejected yoyaku-user / hunter2-secret"));
        let id = enqueue(db, &mail_to("taro@example.jp")).await;
        assert_eq!(mail::send_due(db, &transport, Utc::now()).await.unwrap(), 0);
        let stored = outbox::find(db, id).await.unwrap();
        assert_eq!(stored.attempts, 1, "{}", t.label());
        assert!(stored.last_error.contains("451"), "{}", stored.last_error);
        assert!(
            !stored.last_error.contains("hunter2-secret"),
            "{}",
            stored.last_error
        );
        assert!(
            !stored.last_error.contains("yoyaku-user"),
            "{}",
            stored.last_error
        );
        sink.refuse(None);

        // Configuration mistakes stop the run without touching any mail.
        let fresh = enqueue(db, &mail_to("hanako@example.jp")).await;
        let remote_plain = Transport::Smtp(SmtpSettings {
            host: "mail.example.jp".into(),
            ..settings.clone()
        });
        let bad_from = Transport::Smtp(SmtpSettings {
            from: "国富町 <yoyaku>".into(),
            ..smtp(port)
        });
        for transport in [remote_plain, bad_from] {
            let err = mail::send_due(db, &transport, Utc::now())
                .await
                .unwrap_err();
            assert!(matches!(err, MailError::Settings(_)), "{err}");
            assert!(!err.to_string().contains("hunter2-secret"));
            let stored = outbox::find(db, fresh).await.unwrap();
            assert_eq!((stored.status, stored.attempts), (MailStatus::Pending, 0));
        }
    }
}
