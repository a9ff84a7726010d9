//! The deployment files as Docker would read them, without Docker: the compose file's health
//! check runs a program the image has, and that program tells a ready service from one that
//! is not there; the settings come from the env file the README shows; the build context
//! leaves build output and history out.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::app::{Backend, TestApp};
use crate::support::cli::command;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of `service` in the compose file: those indented under its key.
fn service_lines(compose: &str, service: &str) -> Vec<String> {
    let key = format!("  {service}:");
    let mut lines = compose.lines().skip_while(|l| l.trim_end() != key);
    assert!(lines.next().is_some(), "no service {service:?}");
    lines
        .take_while(|l| l.trim().is_empty() || l.starts_with("   "))
        .map(str::to_string)
        .collect()
}

/// The value of `key` in a service's lines, at any depth.
fn value_of<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    let key = format!("{key}:");
    lines
        .iter()
        .find_map(|l| l.trim_start().strip_prefix(key.as_str()))
        .map(str::trim)
}

/// The compose file's health check of hotline, in exec form (a JSON array is YAML too).
fn health_check() -> Vec<String> {
    let lines = service_lines(&read("docker-compose.yml"), "hotline");
    let start = lines
        .iter()
        .position(|l| l.trim() == "healthcheck:")
        .expect("hotline has a health check");
    let test = value_of(&lines[start..], "test").expect("the health check has a test");
    serde_json::from_str(test).unwrap_or_else(|e| panic!("test: {test}: {e}"))
}

/// The program the image runs, as its Dockerfile installs it and names it.
fn image_program() -> String {
    let dockerfile = read("Dockerfile");
    let copy = dockerfile
        .lines()
        .find(|l| l.starts_with("COPY --from=build"))
        .expect("the Dockerfile copies the built binary");
    let words: Vec<&str> = copy.split_whitespace().collect();
    let built = words[words.len() - 2];
    assert_eq!(
        built, "/src/target/release/hotline",
        "the image's binary is not the one this crate builds (and these tests run)"
    );
    let installed = words[words.len() - 1];
    let program = installed
        .strip_prefix("/usr/local/bin/")
        .unwrap_or_else(|| {
            panic!("{installed} is not on the image's PATH, so CMD cannot name it alone")
        });
    let entrypoint = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("an entrypoint");
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint).expect("exec form");
    assert_eq!(
        entrypoint,
        [program],
        "the entrypoint is the installed binary"
    );
    program.to_string()
}

/// Runs the health check's command line (its program is this crate's `hotline`) with
/// `HOTLINE_LISTEN` set as the image sets it, and how long it took.
async fn run_check(args: Vec<String>, listen: String) -> (std::process::Output, Duration) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = command("sqlite://unused.db", &args)
            .env("HOTLINE_LISTEN", listen)
            .output()
            .expect("run hotline");
        (out, started.elapsed())
    })
    .await
    .expect("joined")
}

#[tokio::test]
async fn the_compose_health_check_runs_hotline_health_which_tells_ready_from_gone() {
    let check = health_check();
    assert_eq!(
        check.first().map(String::as_str),
        Some("CMD"),
        "exec form: the image's /bin/sh is dash and has nothing to speak HTTP with: {check:?}"
    );
    assert_eq!(check.get(1), Some(&image_program()), "{check:?}");
    let args = check[2..].to_vec();

    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let port = app.state.cfg.listen.port();
    // The image listens on every interface (HOTLINE_LISTEN=0.0.0.0:8080 in the Dockerfile);
    // the check asks the loopback address.
    let (out, _) = run_check(args.clone(), format!("0.0.0.0:{port}")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.starts_with("ready"), "{stdout}");

    // Nothing listening: a failure, at once, saying what it asked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let gone = closed.local_addr().expect("addr");
    drop(closed);
    let (out, took) = run_check(args.clone(), gone.to_string()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        stderr.contains(&format!(
            "not ready: http://{gone}/readyz could not be asked"
        )),
        "{stderr}"
    );

    // Any answer but 200 is a failure too, with the status and body.
    let mut elsewhere = args;
    elsewhere.extend(["--url".to_string(), format!("{}/nowhere", app.base)]);
    let (out, _) = run_check(elsewhere, gone.to_string()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("/nowhere answered 404"), "{stderr}");
}

/// The variables compose substitutes in a text: `${NAME…}`.
fn substituted(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn the_secrets_and_the_callback_number_come_from_the_env_file_the_readme_shows() {
    let lines = service_lines(&read("docker-compose.yml"), "hotline");
    assert_eq!(value_of(&lines, "env_file"), Some(".env"), "{lines:#?}");
    let example = read(".env.example");
    let set: Vec<String> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    for needed in [
        "HOTLINE_API_TOKEN",
        "HOTLINE_CALLBACK_FROM",
        "HOTLINE_TWILIO_ACCOUNT_SID",
        "HOTLINE_TWILIO_AUTH_TOKEN",
        "HOTLINE_PUBLIC_URL",
    ] {
        assert!(
            set.iter().any(|k| k == needed),
            "{needed} not in .env.example"
        );
    }
    // What compose substitutes is in the example, and every setting of the example is one
    // the README's configuration table documents.
    let compose = lines.join("\n");
    let readme = read("README.md");
    let from_env = substituted(&compose);
    assert!(!from_env.is_empty(), "{compose}");
    for name in from_env {
        assert!(set.contains(&name), "{name} is not in .env.example");
    }
    for name in &set {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not in the README"
        );
    }
    assert!(
        readme.contains("cp .env.example .env"),
        "the README shows no env file"
    );
    assert!(readme.contains("docker compose up"));
}

#[test]
fn the_build_context_leaves_out_build_output_history_and_secrets() {
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for left_out in ["target/", ".git/", "bench/out/", ".env"] {
        assert!(patterns.contains(&left_out), "{left_out} is sent to Docker");
    }
    // What the build includes must stay in.
    assert!(patterns.contains(&"!data/cn-calendar-2024-2026.csv"));
    for kept in ["src", "migrations", "prompts", "Cargo.toml", "Cargo.lock"] {
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == kept),
            "{kept} left out"
        );
    }
}

/// The services of a compose profile: those whose lines name it in `profiles`.
fn profile_services(compose: &str, profile: &str) -> Vec<String> {
    compose
        .lines()
        .filter_map(|l| {
            let name = l.strip_prefix("  ")?.strip_suffix(':')?;
            (!name.starts_with([' ', '#'])).then(|| name.to_string())
        })
        .filter(|name| {
            let lines = service_lines(compose, name);
            value_of(&lines, "profiles").is_some_and(|p| {
                serde_json::from_str::<Vec<String>>(p)
                    .unwrap_or_else(|e| panic!("{name}: profiles: {p}: {e}"))
                    .iter()
                    .any(|x| x == profile)
            })
        })
        .collect()
}

/// The `server host:port` lines of the upstream `name` in an nginx configuration.
fn upstream_servers(conf: &str, name: &str) -> Vec<(String, u16)> {
    let opening = format!("upstream {name} {{");
    let mut lines = conf.lines().skip_while(|l| l.trim() != opening);
    assert!(lines.next().is_some(), "no upstream {name}");
    lines
        .take_while(|l| l.trim() != "}")
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|rest| {
            let addr = rest.split_whitespace().next().expect("an address");
            let (host, port) = addr
                .trim_end_matches(';')
                .rsplit_once(':')
                .expect("host:port");
            (host.to_string(), port.parse().expect("a port"))
        })
        .collect()
}

/// Seconds of a compose duration such as `20s`.
fn secs(d: &str) -> u64 {
    d.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a duration in seconds: {d}"))
}

#[test]
fn the_cluster_profile_runs_two_instances_behind_nginx_whose_upstreams_are_its_services() {
    let compose = read("docker-compose.yml");
    let conf = read("deploy/nginx.conf");
    let mut cluster = profile_services(&compose, "cluster");
    cluster.sort();
    assert_eq!(cluster, ["hotline-2", "nginx"], "{compose}");

    // The second instance is the first one again: same image, settings, database and check.
    let first = service_lines(&compose, "hotline");
    let second = service_lines(&compose, "hotline-2");
    for key in [
        "build",
        "env_file",
        "HOTLINE_DATABASE_URL",
        "HOTLINE_TWILIO_AUTH_TOKEN",
        "HOTLINE_API_TOKEN",
        "test",
        "stop_grace_period",
    ] {
        assert!(value_of(&first, key).is_some(), "hotline has no {key}");
        assert_eq!(value_of(&first, key), value_of(&second, key), "{key}");
    }
    // Docker's SIGKILL comes after the drain and the shutdown deadline, not during them.
    let http = hotline::config::HttpConfig::default();
    let grace = secs(value_of(&first, "stop_grace_period").expect("a grace period"));
    assert!(
        grace * 1000 > http.shutdown_drain_ms + http.shutdown_timeout_ms,
        "stop_grace_period {grace}s"
    );

    // nginx reads this file, and its upstreams are the instances, on the port they listen on.
    let nginx = service_lines(&compose, "nginx");
    assert!(
        nginx
            .iter()
            .any(|l| l.trim() == "- ./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"),
        "{nginx:#?}"
    );
    let port: u16 = read("Dockerfile")
        .lines()
        .find_map(|l| l.strip_prefix("ENV HOTLINE_LISTEN=0.0.0.0:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("the image's port");
    let mut servers = upstream_servers(&conf, "hotline");
    servers.sort();
    assert_eq!(
        servers,
        [
            ("hotline".to_string(), port),
            ("hotline-2".to_string(), port)
        ]
    );
    for depends in ["hotline", "hotline-2"] {
        assert!(
            nginx.iter().any(|l| l.trim() == format!("{depends}:")),
            "nginx does not wait for {depends}: {nginx:#?}"
        );
    }
    // Every location goes to that upstream; only the keyed webhooks are sent again once sent.
    let passes: Vec<&str> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("proxy_pass "))
        .collect();
    assert!(!passes.is_empty());
    assert!(passes.iter().all(|p| *p == "http://hotline;"), "{passes:?}");
    let retried_once_sent: Vec<&str> = conf
        .lines()
        .filter(|l| l.contains("proxy_next_upstream ") && l.contains("non_idempotent"))
        .collect();
    assert_eq!(retried_once_sent.len(), 1, "{retried_once_sent:?}");
    assert!(conf.contains("location ~ ^/twilio/(voice|step|survey|status|callback-status)$ {"));
}
