//! `weige`: the one binary. Command line, configuration, logging, start-up and shutdown.

mod bench;
mod bench_intake;
mod config;

use app::{App, AppError, Ctx};
use clap::{Args, Parser, Subcommand};
use config::{FileConfig, Overrides, Settings};
use std::path::PathBuf;
use std::process::ExitCode;
use store::Store;

/// mimalloc rather than the system allocator: a report's request allocates a few hundred small
/// blocks across threads, and glibc's malloc took an eighth of the intake's CPU (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 微格 Weige: micro-grid community governance (微网实格).
///
/// Runs on an embedded SQLite file by default, or on PostgreSQL with `--database postgres://…`.
/// Every flag can also be set by an environment variable (shown in brackets) or in a TOML file
/// given with `--config`; a flag wins over the environment, which wins over the file.
#[derive(Parser, Debug)]
#[command(name = "weige", version, about, long_about)]
struct Cli {
    /// A TOML configuration file (keys: database, listen, session_idle_minutes, secure_cookies,
    /// body_limit_bytes, log_format, map_tile_url, map_attribution, data_key, data_key_file,
    /// files_dir, working_hours).
    #[arg(long, short = 'c', env = "WEIGE_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// The database: sqlite://FILE (created if missing) or postgres://USER@HOST:PORT/DB.
    /// [default: sqlite://weige.db]
    #[arg(long, short = 'd', env = "WEIGE_DATABASE", global = true)]
    database: Option<String>,

    /// The key that encrypts personal data (64 hex characters). Without it, the key is read
    /// from the file named by `data_key_file` in the config (default: weige-data.key, created
    /// with a new random key when missing). Keep it safe and out of the database's backups.
    #[arg(long, env = "WEIGE_DATA_KEY", global = true, hide_env_values = true)]
    data_key: Option<String>,

    /// Where case photos are kept. [default: beside an SQLite database (x.db → x-files/), else
    /// ./weige-files]
    #[arg(long, env = "WEIGE_FILES_DIR", global = true)]
    files_dir: Option<String>,

    /// Log format: text or json.
    #[arg(long, env = "WEIGE_LOG_FORMAT", global = true)]
    log_format: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// The address to listen on. [default: 127.0.0.1:8080]
    #[arg(long, short = 'l', env = "WEIGE_LISTEN")]
    listen: Option<String>,
    /// Minutes after which an idle session ends. [default: 30]
    #[arg(long, env = "WEIGE_SESSION_IDLE_MINUTES")]
    session_idle_minutes: Option<i64>,
    /// Mark cookies Secure (when served over HTTPS).
    #[arg(long, env = "WEIGE_SECURE_COOKIES")]
    secure_cookies: Option<bool>,
    /// A base-map tile URL, e.g. https://tiles.example/{z}/{x}/{y}.png; none by default: the
    /// map then draws the grid on a plain background and needs no internet.
    #[arg(long, env = "WEIGE_MAP_TILE_URL")]
    map_tile_url: Option<String>,
}

/// The tables `import` and `export` move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Table {
    Residents,
    Buildings,
    Households,
    Roster,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the web pages and the API.
    Serve(ServeArgs),
    /// Load the demo street (柳城街道, Wenjiang, Chengdu) with an account for every role, then serve.
    Demo(ServeArgs),
    /// Bring the database schema up to date (also done at every start).
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys for integrations.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manage the grid tree's nodes.
    #[command(subcommand)]
    Grid(GridCommand),
    /// Check the division of a scope: gaps and overlaps between siblings, children outside their
    /// parent, invalid shapes. Exits non-zero when it finds any.
    CheckGrid {
        /// The grid code to check, with everything below it.
        #[arg(long, default_value = "510115001")]
        scope: String,
        /// Gaps and overlaps smaller than this many square metres are ignored.
        #[arg(long, default_value_t = app::DEFAULT_TOLERANCE_M2)]
        tolerance: f64,
    },
    /// Import grid nodes from a GeoJSON FeatureCollection (properties: code, name, kind): all or
    /// nothing; every problem is named with its feature and code.
    ImportMap {
        /// The GeoJSON file.
        file: PathBuf,
        /// Overlaps and overreach smaller than this many square metres are accepted.
        #[arg(long, default_value_t = app::DEFAULT_TOLERANCE_M2)]
        tolerance: f64,
    },
    /// Export a scope's grid nodes, all levels, as a GeoJSON FeatureCollection.
    ExportMap {
        #[arg(long, default_value = "510115001")]
        scope: String,
        /// Where to write it; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a table from CSV (UTF-8) or XLSX. Every row is checked; while any row is bad
    /// nothing is imported, unless --skip-bad-rows. Headers: residents 微网格编码,街路巷,门牌号,
    /// 小区,楼栋,单元,房号,姓名,身份证号,电话,与户主关系,居住类型,关爱等级,标签; buildings 微网格编码,
    /// 街路巷,门牌号,小区,楼栋,经度,纬度,轮廓; households 街路巷,门牌号,小区,楼栋,单元,房号; roster
    /// 网格编码,职责,姓名,电话,党员,任职时间,培训情况,楼栋,账号.
    Import {
        #[arg(value_enum)]
        table: Table,
        file: PathBuf,
        #[arg(long)]
        skip_bad_rows: bool,
    },
    /// Export a table of a scope as CSV or XLSX (residents masked; residents and the roster are
    /// audited as exports of personal data).
    Export {
        #[arg(value_enum)]
        table: Table,
        #[arg(long)]
        scope: String,
        /// csv or xlsx.
        #[arg(long, default_value = "xlsx")]
        format: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        username: String,
        /// The person's name as shown.
        #[arg(long)]
        name: String,
        /// The grid code the account belongs to.
        #[arg(long)]
        scope: String,
        /// The initial password (8+ characters, 3 of: upper, lower, digit, symbol).
        #[arg(long, env = "WEIGE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// List accounts inside a scope.
    List {
        #[arg(long)]
        scope: String,
    },
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Set a new password; also unlocks the account and ends its sessions.
    ResetPassword {
        username: String,
        #[arg(long, env = "WEIGE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Grant a role on a scope, e.g. --role grid_worker --scope 510115001001.
    Grant {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        scope: String,
    },
    /// Revoke a role held on a scope.
    Revoke {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        scope: String,
    },
}

#[derive(Subcommand, Debug)]
enum ApiKeyCommand {
    /// Create a key and print it (once).
    Create {
        #[arg(long)]
        name: String,
        /// An operational role, e.g. community_staff.
        #[arg(long)]
        role: String,
        #[arg(long)]
        scope: String,
    },
    /// List keys inside a scope.
    List {
        #[arg(long)]
        scope: String,
    },
    /// Revoke a key by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Point → micro-grid routing: lookups per second, build time and memory, against PostGIS.
    Route(bench::RouteArgs),
    /// Case intake over HTTP (cases/s, p50/p99 against the empty endpoint) on SQLite and
    /// PostgreSQL, then list and filter latency with many cases in the database.
    Intake(bench_intake::IntakeArgs),
}

#[derive(Subcommand, Debug)]
enum GridCommand {
    /// Add a node (district, street, community, grid or micro-grid: the code's length says which);
    /// its parent must exist.
    Add {
        /// e.g. 510115001 for a street.
        code: String,
        name: String,
    },
}

/// A failure the user can act on; printed in Chinese and English.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("配置错误 / configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("数据库 / database: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    App(String),
    #[error(
        "无法监听 / cannot listen on {addr}: {source}. 换一个地址或端口 / choose another with --listen"
    )]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("服务中断 / server stopped: {0}")]
    Serve(std::io::Error),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(s) => Failure::Store(s),
            AppError::Invalid { field, message } => Failure::App(format!("{field}: {message}")),
            AppError::NotFound(what) => Failure::App(format!("未找到 / not found: {what}")),
            other => Failure::App(other.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("错误 / error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli, serve: Option<&ServeArgs>) -> Result<Settings, Failure> {
    let file = match &cli.config {
        Some(path) => config::read_file(path)?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        database: cli.database.clone(),
        listen: serve.and_then(|s| s.listen.clone()),
        session_idle_minutes: serve.and_then(|s| s.session_idle_minutes),
        secure_cookies: serve.and_then(|s| s.secure_cookies),
        log_format: cli.log_format.clone(),
        map_tile_url: serve.and_then(|s| s.map_tile_url.clone()),
        data_key: cli.data_key.clone(),
        files_dir: cli.files_dir.clone(),
    };
    Ok(config::resolve(file, overrides)?)
}

/// Logs to stderr at `RUST_LOG`'s levels, else at `default`.
fn init_logs(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// The key for personal data: given, or read from its file (made with a new key when missing).
fn load_cipher(key: &config::DataKey) -> Result<store::FieldCipher, Failure> {
    let bad = |why: String| Failure::Config(config::ConfigError::Invalid(why));
    match key {
        config::DataKey::Hex(hex) => {
            store::FieldCipher::from_hex(hex).map_err(|e| bad(format!("data_key: {e}")))
        }
        config::DataKey::File(path) => {
            if !path.exists() {
                let hex = store::FieldCipher::generate_hex().map_err(|e| bad(e.to_string()))?;
                write_private(path, &hex).map_err(|e| {
                    bad(format!(
                        "cannot create the data key file {}: {e}",
                        path.display()
                    ))
                })?;
                eprintln!(
                    "注意 / note: created a new data key in {}. Personal data is encrypted with it: keep it safe and back it up apart from the database.",
                    path.display()
                );
            }
            let hex = std::fs::read_to_string(path).map_err(|e| {
                bad(format!(
                    "cannot read the data key file {}: {e}",
                    path.display()
                ))
            })?;
            store::FieldCipher::from_hex(&hex).map_err(|e| bad(format!("{}: {e}", path.display())))
        }
    }
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}

async fn open(settings: &Settings) -> Result<App, Failure> {
    let store = Store::connect(&settings.database).await?;
    let report = store.migrate(app::now()).await?;
    for (version, name) in &report.applied {
        tracing::info!(version, name, "migration applied");
    }
    let cipher = load_cipher(&settings.data_key)?;
    let app_settings = app::Settings {
        session_idle_minutes: settings.session_idle_minutes,
        working_hours: settings.working_hours.clone(),
        ..Default::default()
    };
    let app = App::new(store, app_settings)
        .with_cipher(cipher)
        .with_files(&settings.files_dir);
    let added = app.ensure_categories().await?;
    if added > 0 {
        tracing::info!(added, "default case categories written");
    }
    Ok(app)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::Demo(a) => Some(a.clone()),
        _ => None,
    };
    let settings = settings(&cli, serve_args.as_ref())?;
    // A benchmark would print a line per request it sends: it logs warnings only.
    let quiet = matches!(cli.command, Command::Bench(_));
    init_logs(
        settings.json_logs,
        if quiet { "warn" } else { "info,sqlx=warn" },
    );
    let ctx = Ctx::cli();
    match cli.command {
        Command::Migrate => {
            let store = Store::connect(&settings.database).await?;
            let report = store.migrate(app::now()).await?;
            if report.applied.is_empty() {
                println!(
                    "数据库已是最新 / the database is up to date ({} migration(s) applied earlier)",
                    report.already_applied
                );
            } else {
                for (v, name) in &report.applied {
                    println!("已应用 / applied migration {v}: {name}");
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Serve(_) => serve(&settings, open(&settings).await?, false).await,
        Command::Demo(_) => {
            let app = open(&settings).await?;
            app.seed_demo().await?;
            let started = std::time::Instant::now();
            eprintln!(
                "正在生成演示街道的楼栋、住户与居民 / filling the demo street with buildings, households and residents…"
            );
            let added = app.seed_demo_people(app::DemoSize::Full).await?;
            if added > 0 {
                eprintln!(
                    "已生成 / added {added} households in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            serve(&settings, app, true).await
        }
        Command::ImportMap { file, tolerance } => {
            let text = std::fs::read(&file)
                .map_err(|e| Failure::App(format!("{}: {e}", file.display())))?;
            let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
                Failure::App(format!("{}: 不是 JSON / not JSON: {e}", file.display()))
            })?;
            let report = open(&settings)
                .await?
                .import_map(&ctx, &value, tolerance)
                .await?;
            println!(
                "已导入 / imported: {} added, {} changed, {} unchanged",
                report.added, report.changed, report.unchanged
            );
            Ok(())
        }
        Command::Import {
            table,
            file,
            skip_bad_rows,
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| Failure::App(format!("{}: {e}", file.display())))?;
            let app = open(&settings).await?;
            let progress = |done: usize, total: usize| eprintln!("  {done}/{total} 行 / rows");
            let (summary, skipped) = match table {
                Table::Residents => {
                    let r = app
                        .import_residents(&ctx, &bytes, skip_bad_rows, &progress)
                        .await?;
                    (
                        format!(
                            "{} residents ({} new households, {} new buildings)",
                            r.residents, r.households_added, r.buildings_added
                        ),
                        r.skipped,
                    )
                }
                Table::Buildings | Table::Households => {
                    let r = if table == Table::Buildings {
                        app.import_buildings(&ctx, &bytes, skip_bad_rows, &progress)
                            .await?
                    } else {
                        app.import_households(&ctx, &bytes, skip_bad_rows, &progress)
                            .await?
                    };
                    (
                        format!("{} added, {} already there", r.added, r.existing),
                        r.skipped,
                    )
                }
                Table::Roster => {
                    let r = app
                        .import_roster(&ctx, &bytes, skip_bad_rows, &progress)
                        .await?;
                    (
                        format!("{} added, {} updated", r.added, r.updated),
                        r.skipped,
                    )
                }
            };
            for e in &skipped {
                eprintln!(
                    "跳过 / skipped line {} ({}): {}",
                    e.line, e.field, e.message
                );
            }
            println!(
                "已导入 / imported {summary}; {} rows skipped",
                skipped.len()
            );
            Ok(())
        }
        Command::Export {
            table,
            scope,
            format,
            out,
        } => {
            let format = app::ExportFormat::parse(&format).ok_or_else(|| {
                Failure::App(format!(
                    "--format 须为 csv 或 xlsx / --format is csv or xlsx, not {format}"
                ))
            })?;
            let app = open(&settings).await?;
            let bytes = match table {
                Table::Residents => app.export_residents(&ctx, &scope, format).await?,
                Table::Buildings => app.export_buildings(&ctx, &scope, format).await?,
                Table::Households => app.export_households(&ctx, &scope, format).await?,
                Table::Roster => app.export_roster(&ctx, &scope, format).await?,
            };
            std::fs::write(&out, bytes)
                .map_err(|e| Failure::App(format!("{}: {e}", out.display())))?;
            println!("已导出 / exported to {}", out.display());
            Ok(())
        }
        Command::ExportMap { scope, out } => {
            let map = open(&settings).await?.export_map(&ctx, &scope).await?;
            let text = map.to_string();
            match out {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| Failure::App(format!("{}: {e}", path.display())))?,
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::CheckGrid { scope, tolerance } => {
            check_grid(&open(&settings).await?, &ctx, &scope, tolerance).await
        }
        Command::User(cmd) => user(&open(&settings).await?, &ctx, cmd).await,
        Command::Apikey(cmd) => apikey(&open(&settings).await?, &ctx, cmd).await,
        Command::Bench(BenchCommand::Route(args)) => bench::route(args).await.map_err(Failure::App),
        Command::Bench(BenchCommand::Intake(args)) => {
            bench_intake::intake(&args).await.map_err(Failure::App)
        }
        Command::Grid(GridCommand::Add { code, name }) => {
            let app = open(&settings).await?;
            let node = app.add_grid_node(&ctx, &code, &name).await?;
            println!(
                "已添加 / added {} {} ({})",
                node.code, node.name, node.level
            );
            Ok(())
        }
    }
}

async fn serve(settings: &Settings, app: App, demo: bool) -> Result<(), Failure> {
    let stop = shutdown_signal();
    let listener = web::listen(settings.listen).map_err(|source| Failure::Listen {
        addr: settings.listen.to_string(),
        source,
    })?;
    let addr = listener.local_addr().map_err(Failure::Serve)?;
    let url = format!("http://{addr}/");
    println!();
    println!(
        "微格 Weige {} — {}",
        env!("CARGO_PKG_VERSION"),
        store::redact_url(&settings.database)
    );
    println!("打开 / open: {url}");
    if demo {
        println!();
        println!(
            "演示街道 / demo street: {} {}",
            app::demo::STREET.1,
            app::demo::STREET.0
        );
        println!(
            "演示账户 / demo accounts — 密码 / password: {}",
            app::demo::DEMO_PASSWORD
        );
        for a in app::demo::DEMO_ACCOUNTS {
            println!(
                "  {:<10} {} {:<20} {}",
                a.username,
                pad(a.role.label_zh(), 12),
                a.role.label_en(),
                a.scope
            );
        }
    }
    println!();
    let state = web::AppState::new(
        app.clone(),
        web::WebConfig {
            secure_cookies: settings.secure_cookies,
            body_limit: settings.body_limit_bytes,
            map_tile_url: settings.map_tile_url.clone(),
            map_attribution: settings.map_attribution.clone(),
        },
    );
    app.refresh_map().await?;
    let sweeper = tokio::spawn(sweep_idle_sessions(app.clone()));
    let map_watch = tokio::spawn(watch_map(app.clone()));
    let worker = format!(
        "{}-{}",
        std::process::id(),
        app::random_hex(4).unwrap_or_default()
    );
    let warnings = tokio::spawn(give_warnings(app.clone(), worker.clone()));
    let deliveries = tokio::spawn(deliver_webhooks(app.clone(), worker));
    let result = web::serve(listener, state, stop).await;
    sweeper.abort();
    map_watch.abort();
    warnings.abort();
    deliveries.abort();
    app.store.close().await;
    tracing::info!("stopped");
    result.map_err(Failure::Serve)
}

/// Removes sessions that have ended by idleness; every server may do it, it is idempotent.
async fn sweep_idle_sessions(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(e) = app.sweep_sessions().await {
            tracing::warn!(error = %e, "could not remove idle sessions");
        }
    }
}

/// Gives the deadline warnings, on the one server that holds the job's lease for the minute.
async fn give_warnings(app: App, worker: String) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        let at = app::now();
        match app.take_lease("warnings", &worker, 25_000, at).await {
            Ok(true) => match app.run_warnings(at).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(warnings = n, "deadline warnings given"),
                Err(e) => tracing::warn!(error = %e, "could not give deadline warnings"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not take the warnings lease"),
        }
    }
}

/// Posts the outbox's due webhook deliveries; every server may, each delivery is claimed once.
async fn deliver_webhooks(app: App, worker: String) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        if let Err(e) = app.deliver_due(&worker, app::now()).await {
            tracing::warn!(error = %e, "could not deliver webhooks");
        }
    }
}

/// Rebuilds the routing index when the map changed, whichever server changed it.
async fn watch_map(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Err(e) = app.refresh_map().await {
            tracing::warn!(error = %e, "could not refresh the routing index");
        }
    }
}

async fn check_grid(app: &App, ctx: &Ctx, scope: &str, tolerance: f64) -> Result<(), Failure> {
    let findings = app.check_division(ctx, scope, tolerance).await?;
    if findings.is_empty() {
        println!(
            "网格划分检查通过 / the division of {scope} is clean: no gaps, overlaps or invalid shapes above {tolerance} m²"
        );
        return Ok(());
    }
    for f in &findings {
        println!(
            "{:<15} {:<18} at {:.6},{:.6}  {}",
            f.kind,
            f.node.as_deref().unwrap_or(&f.parent),
            f.at[0],
            f.at[1],
            f.message
        );
    }
    Err(Failure::App(format!(
        "{} 处问题 / {} findings in the division of {scope}",
        findings.len(),
        findings.len()
    )))
}

/// The future that ends when SIGINT or SIGTERM arrives. The handlers are installed here, when it
/// is made, not when it is first polled: a signal that comes right after the address is printed
/// must already stop the server cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            () = received(int.as_mut()) => {},
            () = received(term.as_mut()) => {},
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// Ends when the signal arrives; never, when its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

async fn user(app: &App, ctx: &Ctx, cmd: UserCommand) -> Result<(), Failure> {
    match cmd {
        UserCommand::Create {
            username,
            name,
            scope,
            password,
        } => {
            let input = app::NewAccountInput {
                username,
                display_name: name,
                password,
                home_scope: scope,
            };
            let a = app.create_account(ctx, &input).await?;
            println!(
                "已创建 / created account {} ({}) in {}",
                a.username, a.display_name, a.home_scope
            );
        }
        UserCommand::List { scope } => {
            for a in app.list_accounts(ctx, Some(&scope)).await? {
                let status = if a.disabled {
                    "disabled"
                } else if a.locked_until.is_some() {
                    "locked"
                } else {
                    "active"
                };
                let grants: Vec<String> = a
                    .grants
                    .iter()
                    .map(|g| format!("{}@{}", g.role, g.scope))
                    .collect();
                println!(
                    "{:<16} {:<16} {:<8} {:<14} {}",
                    a.username,
                    a.display_name,
                    status,
                    a.home_scope,
                    grants.join(", ")
                );
            }
        }
        UserCommand::Disable { username } => {
            let id = app.account_id_by_username(&username).await?;
            app.set_account_disabled(ctx, id, true).await?;
            println!("已停用 / disabled {username}");
        }
        UserCommand::Enable { username } => {
            let id = app.account_id_by_username(&username).await?;
            app.set_account_disabled(ctx, id, false).await?;
            println!("已启用 / enabled {username}");
        }
        UserCommand::ResetPassword { username, password } => {
            let id = app.account_id_by_username(&username).await?;
            app.reset_password(ctx, id, &password).await?;
            println!("已重置密码 / password reset for {username}");
        }
        UserCommand::Grant {
            username,
            role,
            scope,
        } => {
            let id = app.account_id_by_username(&username).await?;
            let g = app.grant_role(ctx, id, &role, &scope).await?;
            println!(
                "已授予 / granted {} on {} {} to {username}",
                g.role, g.scope, g.scope_name
            );
        }
        UserCommand::Revoke {
            username,
            role,
            scope,
        } => {
            let id = app.account_id_by_username(&username).await?;
            let account = app.get_account(ctx, id).await?;
            let grant = account
                .grants
                .iter()
                .find(|g| g.role == role && g.scope == scope)
                .ok_or_else(|| {
                    Failure::App(format!(
                        "{username} 没有此授权 / holds no {role} on {scope}"
                    ))
                })?;
            app.revoke_grant(ctx, id, grant.id).await?;
            println!("已撤销 / revoked {role} on {scope} from {username}");
        }
    }
    Ok(())
}

async fn apikey(app: &App, ctx: &Ctx, cmd: ApiKeyCommand) -> Result<(), Failure> {
    match cmd {
        ApiKeyCommand::Create { name, role, scope } => {
            let created = app.create_api_key(ctx, &name, &role, &scope).await?;
            println!(
                "已创建 / created API key {} ({} @ {})",
                created.api_key.id, created.api_key.role, created.api_key.scope
            );
            println!("密钥只显示这一次 / the key is shown only this once:");
            println!("{}", created.key);
        }
        ApiKeyCommand::List { scope } => {
            for k in app.list_api_keys(ctx, Some(&scope)).await? {
                let status = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<5} {:<24} {:<12} {:<8} {}@{}",
                    k.id, k.name, k.prefix, status, k.role, k.scope
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            app.revoke_api_key(ctx, id).await?;
            println!("已吊销 / revoked API key {id}");
        }
    }
    Ok(())
}

/// Pads to `width` terminal columns, counting a Chinese character as two.
fn pad(s: &str, width: usize) -> String {
    let columns: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(columns)))
}
