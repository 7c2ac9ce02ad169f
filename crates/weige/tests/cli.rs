//! The `weige` binary as a user runs it: exit codes and messages, the account commands, and a
//! server that answers and stops cleanly on SIGTERM. Runs on the engine `WEIGE_TEST_DATABASE` names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};

fn weige(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weige"))
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("WEIGE_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn migrate_twice_then_build_an_office_from_the_command_line() {
    let db = store::testing::fresh().await;
    let url = db.url.as_str();
    let again = weige(url, &["migrate"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("up to date"), "{}", stdout(&again));

    for (code, name) in [("510115", "温江区"), ("510115001", "柳城街道")] {
        let o = weige(url, &["grid", "add", code, name]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let orphan = weige(url, &["grid", "add", "510116001001", "无上级"]);
    assert!(!orphan.status.success());
    assert!(stderr(&orphan).contains("510116001"), "{}", stderr(&orphan));

    let weak = weige(
        url,
        &[
            "user",
            "create",
            "--username",
            "sec",
            "--name",
            "安全员",
            "--scope",
            "510115001",
            "--password",
            "weak",
        ],
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));
    let ok = weige(
        url,
        &[
            "user",
            "create",
            "--username",
            "sec",
            "--name",
            "安全员",
            "--scope",
            "510115001",
            "--password",
            "Strong-Pass1",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let grant = weige(
        url,
        &[
            "user",
            "grant",
            "sec",
            "--role",
            "security_admin",
            "--scope",
            "510115001",
        ],
    );
    assert!(grant.status.success(), "{}", stderr(&grant));
    let list = weige(url, &["user", "list", "--scope", "510115"]);
    assert!(
        stdout(&list).contains("security_admin@510115001"),
        "{}",
        stdout(&list)
    );

    let key = weige(
        url,
        &[
            "apikey",
            "create",
            "--name",
            "12345",
            "--role",
            "community_staff",
            "--scope",
            "510115001",
        ],
    );
    assert!(key.status.success(), "{}", stderr(&key));
    assert!(
        stdout(&key)
            .lines()
            .any(|l| l.starts_with("wk_") && l.len() == 43),
        "{}",
        stdout(&key)
    );
    let admin_key = weige(
        url,
        &[
            "apikey",
            "create",
            "--name",
            "x",
            "--role",
            "audit_admin",
            "--scope",
            "510115001",
        ],
    );
    assert!(!admin_key.status.success());

    let revoke = weige(
        url,
        &[
            "user",
            "revoke",
            "sec",
            "--role",
            "security_admin",
            "--scope",
            "510115001",
        ],
    );
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    let unknown = weige(url, &["user", "disable", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn bad_configuration_stops_with_a_message() {
    let dir = std::env::temp_dir().join(format!("weige-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("weige.toml");
    std::fs::write(&file, "databse = \"sqlite://x.db\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_weige"))
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("databse"), "{}", stderr(&o));

    let o = weige("postgres://weige@127.0.0.1:1/weige", &["migrate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot be reached"), "{}", stderr(&o));
    let o = weige("mysql://localhost/weige", &["migrate"]);
    assert_eq!(o.status.code(), Some(1));
    let o = weige("sqlite://x.db", &["serve", "--listen", "nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nowhere"), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_weige"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "clap's usage error");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_demo_serves_then_stops_cleanly_on_sigterm() {
    let db = store::testing::fresh().await;
    let (mut child, addr, printed) = start(&db.url, "demo", &"5b".repeat(32));
    assert!(
        printed.iter().any(|l| l.contains("Weige@2026")),
        "{printed:?}"
    );

    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "weige exited with {status}");
}

/// Starts `weige <command>` on `db` at a free port: the child, its address and the eight
/// lines printed after the address.
fn start(db: &str, command: &str, key: &str) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weige"))
        .args(["--database", db, command, "--listen", "127.0.0.1:0"])
        .env_remove("WEIGE_CONFIG")
        .env("WEIGE_DATA_KEY", key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("http://")
                .nth(1)
                .map(|a| a.trim_end_matches('/').to_owned())
        })
        .expect("the address is printed");
    let printed = match command {
        "demo" => lines.by_ref().take(8).map_while(Result::ok).collect(),
        _ => Vec::new(),
    };
    // Keep reading what it prints, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url, printed)
}

/// One request on its own connection: the status and the body.
fn call(addr: &str, request: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[tokio::test]
async fn a_kill_9_under_load_loses_no_acknowledged_report() {
    let db = store::testing::fresh().await;
    let data_key = "5a".repeat(32);
    let (mut server, addr, _) = start(&db.url, "demo", &data_key);
    let created = Command::new(env!("CARGO_BIN_EXE_weige"))
        .args(["--database", &db.url, "apikey", "create", "--name", "load"])
        .args(["--role", "street_admin", "--scope", "510115001"])
        .env_remove("WEIGE_CONFIG")
        .env("WEIGE_DATA_KEY", &data_key)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));
    let api_key = stdout(&created)
        .lines()
        .find(|l| l.starts_with("wk_"))
        .unwrap()
        .to_owned();

    // Four clients report until the server dies; each keeps the numbers it was given.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(i64, String)>::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (addr, api_key, acknowledged) = (addr.clone(), api_key.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let body = format!(
                        r#"{{"category":"sg.sanitation","description":"压测 {c}-{i}","micro_grid":"510115001001001001"}}"#
                    );
                    let request = format!(
                        "POST /api/v1/cases HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {api_key}\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    match call(&addr, &request) {
                        Some((201, body)) => {
                            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                            let number = v["number"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().push((v["id"].as_i64().unwrap(), number));
                        }
                        Some((status, body)) => panic!("{status}: {body}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    // Bounded: clients that lost the server stop, and the test must then fail, not hang.
    let waiting_since = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 200 {
        assert!(
            waiting_since.elapsed() < std::time::Duration::from_secs(120)
                && clients.iter().any(|c| !c.is_finished()),
            "only {} reports acknowledged",
            acknowledged.lock().unwrap().len()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = server.wait();
    for c in clients {
        c.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Restarted, the server finds every report it acknowledged.
    let (mut server, addr, _) = start(&db.url, "serve", &data_key);
    let mut missing = Vec::new();
    for (id, number) in &acknowledged {
        let request = format!(
            "GET /api/v1/cases/{id} HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {api_key}\r\nConnection: close\r\n\r\n"
        );
        match call(&addr, &request) {
            Some((200, body)) if body.contains(&format!("\"{number}\"")) => {}
            other => missing.push((number.clone(), other)),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged reports lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    let _ = Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

/// The intake benchmark runs end to end, small: every report and list answered, one block of
/// figures per number of clients. (What it measures is not asserted: tests never time.)
#[test]
fn the_intake_benchmark_runs_small_and_refuses_nonsense() {
    // On PostgreSQL as well when the tests run there (in a scratch database it drops).
    let postgres = std::env::var("WEIGE_TEST_DATABASE")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let engines = if postgres.is_some() { 2 } else { 1 };
    let o = Command::new(env!("CARGO_BIN_EXE_weige"))
        .args(["bench", "intake", "--cases", "40"])
        .args(["--list-cases", "300", "--concurrency", "2,5"])
        .args(match &postgres {
            Some(url) => vec!["--postgres", url.as_str()],
            None => vec!["--no-postgres"],
        })
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.matches("intake over HTTP, 2 clients").count(),
        engines,
        "{out}"
    );
    assert_eq!(
        out.matches("intake over HTTP, 5 clients").count(),
        engines,
        "{out}"
    );
    assert_eq!(out.matches(", 0 failed").count(), 2 * engines, "{out}");
    // Five rounds for each number of clients, each told as it ends.
    assert_eq!(
        stderr(&o).matches(" clients, round 5/5: empty ").count(),
        2 * engines,
        "{}",
        stderr(&o)
    );
    // Linux tells the process's CPU time, so each round says what the CPU allows.
    assert_eq!(
        out.matches("  CPU per request  empty ").count(),
        2 * engines,
        "{out}"
    );
    assert_eq!(out.matches("  list: ").count(), 6 * engines, "{out}");
    assert!(!out.contains("(failed)"), "{out}");

    let zero = Command::new(env!("CARGO_BIN_EXE_weige"))
        .args(["bench", "intake", "--no-postgres", "--concurrency", "0"])
        .output()
        .unwrap();
    assert!(!zero.status.success());
    assert!(stderr(&zero).contains("--concurrency"), "{}", stderr(&zero));
    let no_rounds = Command::new(env!("CARGO_BIN_EXE_weige"))
        .args(["bench", "intake", "--no-postgres", "--rounds", "0"])
        .output()
        .unwrap();
    assert!(!no_rounds.status.success());
    assert!(
        stderr(&no_rounds).contains("--rounds"),
        "{}",
        stderr(&no_rounds)
    );
}
