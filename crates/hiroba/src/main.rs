//! `hiroba`: one binary for the demo, production serving and operations.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hiroba::config::{Config, ConfigError};
use hiroba::{demo, logging, server, tls};
use hiroba_domain::permission::{FacilityScope, Permission, PermissionSet};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use hiroba_store::line::{Channel, ChannelSettings};
use hiroba_store::sessions::SessionPolicy;
use hiroba_store::staff::{self, StaffChange};
use hiroba_store::{Db, SecretBox, StoreError, audit};
use hiroba_web::{AppState, WebConfig};

#[derive(Parser)]
#[command(
    name = "hiroba",
    version,
    about = "ひろば: 公共施設予約とLINE公式アカウントの町のシステム / public facility reservations and the town's LINE account"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo: SQLite in the data directory, seeded with Kunitomi's facilities and demo staff.
    Demo {
        /// Address to listen on [default: HIROBA_LISTEN, else 127.0.0.1:8080]
        #[arg(long)]
        listen: Option<String>,
        #[arg(long, default_value = "./hiroba-data")]
        data_dir: PathBuf,
    },
    /// Serve in production mode (settings from --config and HIROBA_* variables).
    Serve {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// LINE settings from the command line (provisioning, benchmarks).
    Line {
        #[command(subcommand)]
        command: LineCommand,
    },
    /// Check the operation log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Fill a test database with years of synthetic residents and reservations (capacity tests, C05).
    /// Runs once per database, on one that holds the demo facilities (or use --seed-demo).
    SeedHistory {
        #[arg(long, default_value_t = 18_000)]
        residents: usize,
        #[arg(long, default_value_t = 300_000)]
        reservations: usize,
        /// Years of history ending today (plus 90 days ahead).
        #[arg(long, default_value_t = 5)]
        years: u32,
        /// First seed the demo facilities, catalogue and staff (e.g. into an empty PostgreSQL database).
        #[arg(long)]
        seed_demo: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account; the password is asked on the terminal or read from stdin.
    Create {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// Every permission and every facility.
        #[arg(long)]
        admin: bool,
        /// A permission to grant (repeatable), e.g. reservations, logs, staff_admin.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum LineCommand {
    /// Set a channel's credentials: the channel secret and access token are read
    /// from stdin (two lines: secret, then token) so they never appear in the
    /// process list or the shell history; other settings are kept unless given.
    Channel {
        /// production or test
        #[arg(long)]
        channel: String,
        #[arg(long)]
        channel_id: Option<String>,
        /// Messaging API host, e.g. https://api.line.me
        #[arg(long)]
        api_base: Option<String>,
        #[arg(long)]
        api_data_base: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Show how many webhook events were received, processed and are still
    /// waiting for the event worker (read-only; safe while the server runs).
    Events {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain of the operation log from the retention anchor to the head.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Either the embedded default (a data directory with its key file) or a config file.
#[derive(Args)]
struct DbArgs {
    /// Data directory of the embedded SQLite database (as `hiroba demo` uses it).
    #[arg(long, conflicts_with = "config")]
    data_dir: Option<PathBuf>,
    /// Configuration file (TOML); HIROBA_* environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl DbArgs {
    fn config(&self) -> Result<Config, ConfigError> {
        match (&self.data_dir, &self.config) {
            (Some(dir), _) => Config::for_data_dir(dir),
            (None, file) => Config::load(file.as_deref()),
        }
    }
}

enum Failure {
    Config(String),
    Runtime(String),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Runtime(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hiroba: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(Failure::Config(message)) => {
            eprintln!("hiroba: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("hiroba: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open(config: &Config, create_key: bool) -> Result<Db, Failure> {
    let target = config.db_target(create_key)?;
    if let hiroba_store::DbTarget::Sqlite { path, .. } = &target
        && let Some(parent) = path.parent()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::Runtime(format!("{}: {e}", parent.display())))?;
    }
    Ok(hiroba_store::open(&target).await?)
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Demo { listen, data_dir } => {
            // The listen flag wins over HIROBA_LISTEN; links in mail follow
            // the address actually served unless HIROBA_PUBLIC_URL says otherwise.
            let mut config = Config::for_data_dir(&data_dir)?;
            if let Some(listen) = listen {
                config.listen = listen.parse().map_err(|_| {
                    Failure::Config(format!(
                        "設定エラー (--listen): '{listen}' はアドレスとポートの形ではありません"
                    ))
                })?;
                if std::env::var_os("HIROBA_PUBLIC_URL").is_none() {
                    config.public_url = format!("http://{}", config.listen);
                }
            }
            let _guard = init_logs(&config)?;
            let db = open(&config, true).await?;
            demo::seed(&db)
                .await
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let logins = demo::DEMO_STAFF
                .iter()
                .map(|d| (d.login.to_owned(), d.password.to_owned()))
                .collect();
            // The demo's registration form (linked in the greeting) and survey.
            hiroba_store::forms::seed_demo(&db).await?;
            let secrets = open_secrets(&config, &db).await?;
            let sims = start_line_sims(&config, &db, &secrets).await?;
            print_demo_banner(&config);
            for (channel, sim) in &sims {
                println!(
                    "  LINE シミュレーター・{}アカウント (LINE simulator, {channel}): {}",
                    channel.label_ja(),
                    sim.page_url()
                );
            }
            let outcome = serve(config, db, secrets, logins).await;
            for (_, sim) in sims {
                sim.shutdown();
            }
            outcome
        }
        Command::Serve { db } => {
            let config = db.config()?;
            let _guard = init_logs(&config)?;
            let db = open(&config, false).await?;
            let secrets = open_secrets(&config, &db).await?;
            serve(config, db, secrets, Vec::new()).await
        }
        Command::Migrate { db } => {
            let config = db.config()?;
            let db = open(&config, true).await?;
            println!("migrations applied ({})", db.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Staff {
            command:
                StaffCommand::Create {
                    login,
                    name,
                    admin,
                    permissions,
                    db,
                },
        } => {
            let config = db.config()?;
            let db = open(&config, false).await?;
            create_staff(&db, &login, &name, admin, &permissions).await
        }
        Command::Line {
            command:
                LineCommand::Channel {
                    channel,
                    channel_id,
                    api_base,
                    api_data_base,
                    db,
                },
        } => {
            let config = db.config()?;
            let kind = Channel::parse(&channel).ok_or_else(|| {
                Failure::Config(format!(
                    "設定エラー (--channel): '{channel}' ではなく production か test を指定してください"
                ))
            })?;
            let db = open(&config, false).await?;
            let secrets = open_secrets(&config, &db).await?;
            let mut lines = std::io::stdin().lock().lines();
            let mut next = || -> Result<String, Failure> {
                Ok(lines
                    .next()
                    .transpose()
                    .map_err(|e| Failure::Runtime(e.to_string()))?
                    .unwrap_or_default()
                    .trim()
                    .to_owned())
            };
            let secret = next()?;
            let token = next()?;
            let before = hiroba_store::line::load_channel(&db, &secrets, kind)
                .await?
                .unwrap_or_else(|| ChannelSettings::unconfigured(kind));
            let after = ChannelSettings {
                channel_id: channel_id.unwrap_or(before.channel_id.clone()),
                channel_secret: if secret.is_empty() {
                    before.channel_secret.clone()
                } else {
                    secret
                },
                access_token: if token.is_empty() {
                    before.access_token.clone()
                } else {
                    token
                },
                api_base: api_base.unwrap_or(before.api_base.clone()),
                api_data_base: api_data_base.unwrap_or(before.api_data_base.clone()),
                ..before.clone()
            };
            let mut tx = db.begin().await?;
            hiroba_store::line::save_channel(&mut tx, &secrets, &after).await?;
            audit::append(
                &mut tx,
                &audit::NewEntry {
                    staff_id: None,
                    staff_login: "(command)".into(),
                    ip: "local".into(),
                    action: "line.channel_update".into(),
                    object: format!("line:{kind}"),
                    summary: format!(
                        "コマンドで設定: シークレット {}; アクセストークン {}; API {}",
                        if after.channel_secret == before.channel_secret {
                            "変更なし"
                        } else {
                            "変更"
                        },
                        if after.access_token == before.access_token {
                            "変更なし"
                        } else {
                            "変更"
                        },
                        after.api_base
                    ),
                },
            )
            .await?;
            tx.commit().await?;
            println!(
                "{}アカウントの接続設定を保存しました ({kind})",
                kind.label_ja()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Line {
            command: LineCommand::Events { db },
        } => {
            let config = db.config()?;
            let db = open(&config, false).await?;
            let backlog = hiroba_store::line::event_backlog(&db).await?;
            println!("LINE webhook のイベント (本番とテストの合計)");
            println!("  受信 (received): {}", backlog.received);
            println!("  処理済み (processed): {}", backlog.processed);
            println!("  未処理 (pending): {}", backlog.pending);
            println!(
                "  打ち切り (given up after {} attempts): {}",
                hiroba_store::line::MAX_EVENT_ATTEMPTS,
                backlog.given_up
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { db },
        } => {
            let config = db.config()?;
            let db = open(&config, false).await?;
            match audit::verify(&db).await? {
                Ok(report) => {
                    println!(
                        "OK: 操作ログの連鎖は正常です。{} 件を検証しました（先頭 #{} {}）",
                        report.checked, report.head_seq, report.head_hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    println!(
                        "NG: 操作ログの改ざんまたは欠落を検出しました: #{} ({})",
                        broken.seq, broken.reason
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::SeedHistory {
            residents,
            reservations,
            years,
            seed_demo,
            db,
        } => {
            let config = db.config()?;
            let db = open(&config, seed_demo).await?;
            seed_history(&db, residents, reservations, years, seed_demo).await
        }
    }
}

async fn seed_history(
    db: &Db,
    residents: usize,
    reservations: usize,
    years: u32,
    seed_demo: bool,
) -> Result<ExitCode, Failure> {
    use hiroba_store::seed_history::{HistoryOptions, refusal};
    if seed_demo {
        demo::seed(db)
            .await
            .map_err(|e| Failure::Runtime(e.to_string()))?;
    }
    if let Some(reason) = refusal(db).await? {
        return Err(Failure::Config(reason));
    }
    let opts = HistoryOptions {
        residents,
        reservations,
        years,
        ..HistoryOptions::default()
    };
    println!(
        "合成履歴を作成しています ({}): 利用者 {residents} 人、予約 {reservations} 件、{years} 年分",
        db.backend_name()
    );
    let started = std::time::Instant::now();
    let report = hiroba_store::seed_history::seed_history(db, &opts).await?;
    println!(
        "完了 ({:.1} 秒): 利用者 {} 人、予約 {} 件（うち取消 {} 件）、占有セル {} 行、期間 {} 〜 {}（空き枠候補 {} 件）",
        started.elapsed().as_secs_f64(),
        report.residents,
        report.reservations,
        report.cancelled,
        report.cells,
        report.from,
        report.to,
        report.capacity
    );
    if report.reservations < reservations {
        eprintln!(
            "hiroba: 空き枠が足りず、予約は {} 件にとどまりました / the rooms were full",
            report.reservations
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logs(
    config: &Config,
) -> Result<Option<tracing_appender::non_blocking::WorkerGuard>, Failure> {
    logging::init(Some((
        &config.access_log_dir,
        config.access_log_retention_days,
    )))
    .map_err(|e| Failure::Config(format!("設定エラー (access_log_dir): {e}")))
}

fn print_demo_banner(config: &Config) {
    let base = format!("http://{}", config.listen);
    println!("ひろば デモを起動しました / Hiroba demo is running");
    println!("  住民向けサイト (residents): {base}/");
    println!("  職員用管理画面 (staff):     {base}/admin");
    println!(
        "  データ (data dir):          {}",
        config.data_dir.display()
    );
    println!("  デモ用アカウント (demo staff logins):");
    for d in &demo::DEMO_STAFF {
        println!("    {:<9} / {:<22} {}", d.login, d.password, d.role);
    }
    let (email, password, _) = demo::DEMO_RESIDENT;
    println!("  デモ用利用者 (demo resident): {email} / {password}  → {base}/account/login");
    println!("  送信メール (mail outbox):   {base}/admin/dev/mail");
    println!("  停止するには Ctrl+C / press Ctrl+C to stop");
}

/// The demo's LINE platform (issue 5): the simulator on loopback, with the
/// production channel pointed at it and a few simulated residents, so a
/// newcomer sees the whole LINE side without a LINE account. Fresh channel
/// credentials at every start; they never leave this machine.
async fn start_line_sims(
    config: &Config,
    db: &Db,
    secrets: &SecretBox,
) -> Result<Vec<(Channel, hiroba_line_sim::SimHandle)>, Failure> {
    let mut sims = Vec::new();
    let mut tx = db.begin().await?;
    for channel in Channel::ALL {
        let secret = hiroba_store::sessions::new_token()?;
        let token = hiroba_store::sessions::new_token()?;
        let sim = hiroba_line_sim::spawn(hiroba_line_sim::SimConfig {
            channel_token: token.clone(),
            channel_secret: secret.clone(),
            webhook_url: Some(format!("http://{}/line/webhook/{channel}", config.listen)),
            // LIFF pages (forms) open from the simulated chat at Hiroba's /liff.
            liff_endpoint_url: Some(format!("{}/liff", config.public_url.trim_end_matches('/'))),
            bind: std::net::IpAddr::from([127, 0, 0, 1]),
            ..hiroba_line_sim::SimConfig::default()
        })
        .await
        .map_err(|e| Failure::Runtime(format!("LINE simulator: {e}")))?;
        let people: &[&str] = match channel {
            Channel::Production => &["国富 太郎", "本庄 花子", "八代 次郎"],
            Channel::Test => &["広報 一郎（テスト）", "管理 太郎（テスト）"],
        };
        for name in people {
            sim.add_user(&hiroba_line_sim::new_user_id(), name, None);
        }
        hiroba_store::line::save_channel(
            &mut tx,
            secrets,
            &ChannelSettings {
                kind: channel,
                channel_id: format!("demo-simulator-{channel}"),
                channel_secret: secret,
                access_token: token,
                api_base: sim.api_base(),
                api_data_base: sim.api_data_base(),
                // The simulator's LINE Login channel and LIFF app (forms).
                login_channel_id: sim.config().login_channel_id.clone(),
                liff_id: sim.config().liff_id.clone(),
            },
        )
        .await?;
        sims.push((channel, sim));
    }
    tx.commit().await?;
    Ok(sims)
}

/// The key that seals stored credentials, checked against the database so
/// every instance runs with the same one.
async fn open_secrets(config: &Config, db: &Db) -> Result<SecretBox, Failure> {
    let secrets = config.secret_box()?;
    secrets.verify_against(db).await?;
    Ok(secrets)
}

async fn serve(
    config: Config,
    db: Db,
    secrets: SecretBox,
    demo_logins: Vec<(String, String)>,
) -> Result<ExitCode, Failure> {
    let session = SessionPolicy {
        idle: chrono::Duration::minutes(config.session_idle_minutes),
        absolute: chrono::Duration::hours(config.session_absolute_hours),
    };
    let web = WebConfig {
        https: config.tls.is_some() || config.behind_https_proxy,
        session,
        trusted_proxies: config.trusted_proxies.clone(),
        dev_pages: !demo_logins.is_empty(),
        public_url: config.public_url.clone(),
        demo_logins,
        ..WebConfig::default()
    };
    let tls = match &config.tls {
        Some(files) => Some(
            tls::server_config(&files.cert, &files.key)
                .map_err(|e| Failure::Config(e.to_string()))?,
        ),
        None => None,
    };
    let state = AppState::new(db.clone(), web, secrets.clone()).await?;
    let app = hiroba_web::app(state);
    let maintenance =
        hiroba_jobs::maintenance::spawn(db.clone(), session, Duration::from_secs(24 * 3600));
    let transport = match config.smtp.clone() {
        Some(settings) => hiroba_jobs::mail::Transport::Smtp(settings),
        None => {
            tracing::warn!("no SMTP server configured (smtp_host): mail stays in the outbox");
            hiroba_jobs::mail::Transport::OutboxOnly
        }
    };
    let mailer = hiroba_jobs::mail::spawn(db.clone(), transport, Duration::from_secs(10));
    // Small, frequent checkpoints: a second's worth of write-ahead log copied
    // at once stalled the webhook's commits for tens of milliseconds
    // (docs/PERFORMANCE.md, "LINE webhook ingest").
    let checkpointer =
        hiroba_jobs::maintenance::spawn_checkpointer(db.clone(), Duration::from_millis(100));
    let line_events = hiroba_jobs::line_events::spawn_with(
        db.clone(),
        secrets.clone(),
        config.public_url.clone(),
        Duration::from_millis(200),
    );
    let deliveries = hiroba_jobs::deliveries::spawn(
        db.clone(),
        secrets,
        hiroba_jobs::deliveries::WorkerConfig {
            narrowcast_from: (config.line_narrowcast_from > 0)
                .then_some(config.line_narrowcast_from),
            ..hiroba_jobs::deliveries::WorkerConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Failure::Runtime(format!("{} で待ち受けできません: {e}", config.listen)))?;
    tracing::info!(listen = %config.listen, tls = tls.is_some(), backend = db.backend_name(), "serving");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    server::serve(listener, app, tls, shutdown)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    maintenance.abort();
    mailer.abort();
    checkpointer.abort();
    line_events.abort();
    deliveries.abort();
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

fn read_password() -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("パスワード (password): ")
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        let second = rpassword::prompt_password("もう一度 (again): ")
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        if first != second {
            return Err(Failure::Config(
                "パスワードが一致しません (passwords differ)".into(),
            ));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn create_staff(
    db: &Db,
    login: &str,
    name: &str,
    admin: bool,
    codes: &[String],
) -> Result<ExitCode, Failure> {
    let login = LoginId::parse(login).map_err(|m| Failure::Config(format!("--login: {m}")))?;
    let name = StaffName::parse(name).map_err(|m| Failure::Config(format!("--name: {m}")))?;
    let mut permissions: PermissionSet = codes
        .iter()
        .map(|c| {
            c.parse::<Permission>()
                .map_err(|_| Failure::Config(format!("--permission: '{c}' という権限はありません")))
        })
        .collect::<Result<_, _>>()?;
    if admin {
        permissions = PermissionSet::all();
    }
    let scope = if admin {
        FacilityScope::All
    } else {
        FacilityScope::Only(Default::default())
    };
    let password = read_password()?;
    let password = NewPassword::parse(&password, &[login.as_str(), name.as_str()])
        .map_err(|m| Failure::Config(format!("password: {m}")))?;
    let hash = staff::hash_password(&password).await?;
    let mut tx = db.begin().await?;
    let id = match staff::create(
        &mut tx,
        &login,
        &StaffChange {
            name,
            permissions,
            scope,
        },
        &hash,
    )
    .await
    {
        Ok(id) => id,
        Err(StoreError::Duplicate(_)) => {
            return Err(Failure::Config(format!(
                "--login: {login} はすでに使われています"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    audit::append(
        &mut tx,
        &audit::NewEntry {
            staff_id: None,
            staff_login: "(cli)".into(),
            ip: "local".into(),
            action: "system.staff_create".into(),
            object: format!("staff:{id}"),
            summary: format!(
                "コマンドで {login} を作成{}",
                if admin { "（管理者）" } else { "" }
            ),
        },
    )
    .await?;
    tx.commit().await?;
    println!("職員 {login} を作成しました (id {id})");
    Ok(ExitCode::SUCCESS)
}
