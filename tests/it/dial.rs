//! `hotline dial`, the terminal softphone, against a running app: what its user types and
//! reads.

use std::io::Write;
use std::process::Stdio;

use crate::support::app::{AUTH_TOKEN, Backend, TestApp};
use crate::support::cli::command;
use crate::support::demo::{HOTLINE, UNKNOWN};

/// Runs `hotline dial` against `app` with `typed` on its standard input; its exit status
/// and what it printed.
async fn dial(app: &TestApp, typed: &str) -> (std::process::ExitStatus, String, String) {
    let mut cmd = command(
        &app.database_url,
        &[
            "dial", "--from", UNKNOWN, "--to", HOTLINE, "--url", &app.base,
        ],
    );
    cmd.env("HOTLINE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let typed = typed.to_string();
    // The softphone blocks on its input; the app answers it from this test's runtime.
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn hotline dial");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(typed.as_bytes()).expect("type");
        }
        child.wait_with_output().expect("hotline dial ends")
    })
    .await
    .expect("join");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn speech_at_a_keypad_only_prompt_is_refused_with_a_message_not_a_crash() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    // Mandarin, the bill, then speech where the account number is typed, then the number.
    let (status, out, err) = dial(&app, "1\n1\nsay 一二三\nhello\n10000001#\nq\n").await;
    assert!(status.success(), "{status}: {out}\n{err}");
    assert!(
        out.contains("(this prompt takes keys only, not speech: type digits, * or #)"),
        "{out}"
    );
    assert!(
        out.contains("('h' is not a telephone key: type 0-9, * or #)"),
        "{out}"
    );
    // The call went on where it was: the account number was taken after the mistakes.
    assert!(out.contains("请输入您的查询密码"), "{out}");
    assert!(out.contains("(hung up)"), "{out}");
    assert!(!err.contains("Error") && !err.contains("panicked"), "{err}");
}
