//! The built `hotline` command with its standard output read by someone who leaves early
//! (`hotline report satisfaction | head -1`): it ends cleanly, without a panic.

use std::io::Read;
use std::process::Stdio;

use crate::support::cli::command;

/// Commands that print without a server, each against the same fresh database.
const COMMANDS: &[&[&str]] = &[
    &["migrate"],
    &["report", "satisfaction"],
    &[
        "report",
        "hotline",
        "--from",
        "2024-01-01",
        "--to",
        "2026-12-31",
        "--format",
        "json",
    ],
    &["report", "complaints", "--format", "csv"],
    &["rollup"],
    &["agents", "list"],
];

#[test]
fn every_command_ends_cleanly_when_its_reader_has_gone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = format!("sqlite://{}/hotline.db", dir.path().display());
    for args in COMMANDS {
        // Read to the end, each prints something: a closed pipe is something it would hit.
        let read = command(&db, args).output().expect("run hotline");
        assert!(read.status.success(), "{args:?}: {read:?}");
        assert!(!read.stdout.is_empty(), "{args:?} prints nothing");

        // Nobody reads: the pipe's only reader is closed before the command writes.
        let mut child = command(&db, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hotline");
        drop(child.stdout.take());
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut stderr).expect("read stderr");
        }
        let status = child.wait().expect("wait for hotline");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(status.success(), "{args:?} exited {status}: {stderr}");
    }
}
