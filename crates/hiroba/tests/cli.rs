//! The `hiroba` command line: configuration errors exit 2 with one line naming
//! the setting; staff accounts, audit verification and the LINE event backlog
//! work beside a demo data directory; a wrong database key is a clear error (S02).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn hiroba(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hiroba"))
        .args(args)
        .env_remove("HIROBA_DB_KEY")
        .env_remove("HIROBA_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn malformed_config_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (body, setting) in [
        ("listen = \"here\"\n", "listen"),
        ("listen = [\n", ""),
        (
            "database_url = \"mysql://user:secret@db\"\n",
            "database_url",
        ),
        ("unknown_setting = 1\n", "unknown_setting"),
    ] {
        let path = dir.path().join("hiroba.toml");
        std::fs::write(&path, body).unwrap();
        let out = hiroba(&["serve", "--config", path.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains("設定エラー") && err.contains(setting), "{err}");
        // The password of the URL, not the word: the list of known settings
        // names `secret_key_file` and `smtp_password`.
        assert!(
            !err.contains("user:secret") && !err.contains("secret@"),
            "a database password must not be printed"
        );
    }
}

#[test]
fn staff_create_and_audit_verify_beside_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = hiroba(&["migrate", "--data-dir", data_arg], "");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The event worker's backlog (issue 5): nothing received yet.
    let out = hiroba(&["line", "events", "--data-dir", data_arg], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("受信 (received): 0") && shown.contains("未処理 (pending): 0"),
        "{shown}"
    );

    let out = hiroba(
        &[
            "staff",
            "create",
            "--data-dir",
            data_arg,
            "--login",
            "yakuba",
            "--name",
            "役場 管理者",
            "--admin",
        ],
        "Kunitomi-kanri 2026 aoi\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("yakuba"));

    let out = hiroba(
        &[
            "staff",
            "create",
            "--data-dir",
            data_arg,
            "--login",
            "yakuba",
            "--name",
            "重複",
        ],
        "Kunitomi-kanri 2026 aoi\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("すでに使われています"));
    let out = hiroba(
        &[
            "staff",
            "create",
            "--data-dir",
            data_arg,
            "--login",
            "weak",
            "--name",
            "弱い",
        ],
        "password123\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("パスワード"));

    let out = hiroba(&["audit", "verify", "--data-dir", data_arg], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("OK"), "{}", text(&out.stdout));

    // A wrong key: a clear message, no panic.
    std::fs::write(data.join("hiroba.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    let out = hiroba(&["audit", "verify", "--data-dir", data_arg], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("暗号鍵が違う") && !err.contains("panicked"),
        "{err}"
    );

    // A data dir without a key: told to create the database first.
    let out = hiroba(
        &[
            "audit",
            "verify",
            "--data-dir",
            dir.path().join("empty").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("鍵ファイル"));
}

#[test]
fn help_lists_every_command() {
    let out = hiroba(&["--help"], "");
    let help = text(&out.stdout);
    for command in ["demo", "serve", "migrate", "staff", "audit"] {
        assert!(help.contains(command), "{help}");
    }
}
