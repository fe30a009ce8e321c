//! The demo's mail outbox (`/admin/dev/mail`): in demo mode no mail leaves the
//! machine, so a newcomer reads here what residents would receive and can
//! follow its links. Outside demo mode the page does not exist.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use hiroba_domain::datetime::format_timestamp;
use hiroba_store::outbox;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

/// A piece of a mail body: text, or a link to follow.
pub enum Piece {
    Text(String),
    Link(String),
}

/// Splits text into plain pieces and http(s) links.
fn pieces(body: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        if start > 0 {
            out.push(Piece::Text(rest[..start].to_owned()));
        }
        let end = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '」' || c == '）')
            .map_or(rest.len(), |e| start + e);
        out.push(Piece::Link(rest[start..end].to_owned()));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_owned()));
    }
    out
}

pub struct MailView {
    at: String,
    to: String,
    subject: String,
    status: &'static str,
    body: Vec<Piece>,
}

#[derive(Template)]
#[template(path = "admin/dev_mail.html")]
struct Page {
    layout: Layout,
    mails: Vec<MailView>,
}

pub async fn list(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    if !state.config().dev_pages {
        return Err(AppError::NotFound);
    }
    let mails = outbox::recent(state.db(), 50)
        .await?
        .into_iter()
        .map(|m| MailView {
            at: format_timestamp(m.created_at),
            to: m.to_address,
            subject: m.subject,
            status: m.status.label_ja(),
            body: pieces(&m.body),
        })
        .collect();
    let layout = me.page(&state, "送信メール（デモ）", None).await?;
    render(&Page { layout, mails })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_in_japanese_text() {
        let p = pieces("確認: https://a.example/v?t=1 を開いてください（24時間）");
        assert!(matches!(&p[1], Piece::Link(l) if l == "https://a.example/v?t=1"));
        assert!(matches!(&p[0], Piece::Text(t) if t == "確認: "));
        assert_eq!(p.len(), 3);
    }
}
