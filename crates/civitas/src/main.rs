//! `civitas`: the server and its administration commands.

use anyhow::Context;
use civitas::config::{Config, LogFormat};
use civitas::{cli, demo, serve};
use clap::{Parser, Subcommand};
use std::io::{BufReader, Read};
use std::path::PathBuf;

// The server allocates many small, short-lived buffers per request; mimalloc is markedly faster at that
// than glibc's allocator (see docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Civitas: the platform a regional shared-IT-services hub runs on.
///
/// Configuration comes from an optional TOML file (--config, or ./civitas.toml if present), then from
/// environment variables: CIVITAS_DATA_DIR (default ./civitas-data), CIVITAS_BIND (default 127.0.0.1:8080),
/// CIVITAS_DATABASE_URL (default sqlite://<data dir>/civitas.db; a postgres:// URL switches to PostgreSQL),
/// CIVITAS_REGION_NAME, CIVITAS_SECURE_COOKIES, CIVITAS_LOG_FORMAT (text|json). Command-line flags win.
#[derive(Parser)]
#[command(name = "civitas", version, about, long_about)]
struct Cli {
    /// A TOML configuration file (see `civitas config example`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log format: text for people, json for log collectors.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the API, and run background jobs.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
        /// Load the demo region first if the database is empty, and print the demo sign-ins.
        #[arg(long)]
        demo: bool,
    },
    /// Load the demo region into the configured (empty) database.
    Demo,
    /// Apply database migrations.
    Migrate,
    /// Manage people.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write every table to FILE (JSON Lines).
    Backup { file: PathBuf },
    /// Load FILE (from `civitas backup`) into an empty database.
    Restore { file: PathBuf },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Incoming mail.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Read one RFC 5322 message on standard input (a mail server's pipe, like rt-mailgate) and turn it into a
    /// ticket, a reply, a triage entry or a quarantined message. Exits 0 once the message is stored, and 75
    /// (EX_TEMPFAIL) only when it could not be stored, so that the mail server retries.
    Ingest,
    /// Take the unread messages of the mailbox named by `imap_url` (CIVITAS_IMAP_URL) once, as `civitas
    /// serve` does every minute, and print what became of each. Exits 75 (EX_TEMPFAIL) when the mailbox could
    /// not be read or a message not stored; those messages stay unread.
    Poll,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a person; the password is read from standard input (one line).
    Add {
        /// The organisation's slug, such as melrose or north-reading.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// hub-admin, hub-agent, member-admin, member-staff or auditor.
        #[arg(long)]
        role: String,
    },
    /// Set a person's password from standard input (one line).
    Password {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a person and print it (once).
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole log with the audit key: every entry's hash, every link, and that the chain ends
    /// where the sealed head says. Exits non-zero naming what is wrong and where.
    Verify {
        /// An outside record of an earlier head, HASH:COUNT (from `civitas audit head` or the hourly
        /// `audit checkpoint` log line): the chain must still pass through it.
        #[arg(long, value_name = "HASH:COUNT")]
        expect_head: Option<domain::audit::Checkpoint>,
    },
    /// Print the head (last hash and entry count) as HASH:COUNT, for a record kept outside the database.
    Head,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration file.
    Example,
    /// Print the configuration in effect (secrets hidden).
    Show,
}

/// `civitas mail ingest`: 0 when stored, 75 when the mail server should retry.
fn ingest(config: &Config) -> std::process::ExitCode {
    const EX_TEMPFAIL: u8 = 75;
    let mut raw = Vec::new();
    let limit = u64::try_from(civitas::mailgate::MAX_MESSAGE_BYTES).unwrap_or(u64::MAX) + 1;
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut raw) {
        eprintln!("civitas mail ingest: reading the message: {e}");
        return std::process::ExitCode::from(EX_TEMPFAIL);
    }
    let own = config.own_address();
    let run = async {
        let db = cli::open(config).await?;
        let outcome = civitas::mailgate::ingest(&db, &raw, &own).await;
        db.close().await;
        outcome
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run));
    match result {
        Ok(outcome) => {
            println!("{outcome}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "civitas mail ingest: could not store the message, the mail server should retry: {e:#}"
            );
            std::process::ExitCode::from(EX_TEMPFAIL)
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut s)
        .context("reading the password from standard input")?;
    Ok(s.lines().next().unwrap_or("").to_owned())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("civitas: configuration: {e:#}");
            return std::process::ExitCode::from(78);
        }
    };
    civitas::logging::init(cli.log_format.unwrap_or(config.log_format));
    if let Command::Mail {
        command: MailCommand::Ingest,
    } = cli.command
    {
        return ingest(&config);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("civitas: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("civitas: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { bind, demo } => {
            if let Some(b) = bind {
                config.bind = b;
            }
            serve::run(config, demo).await
        }
        Command::Demo => {
            let db = cli::open(&config).await?;
            let summary = demo::load(&db).await?;
            demo::print_sign_ins(&summary, None);
            Ok(())
        }
        Command::Migrate => {
            cli::open(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    org,
                    email,
                    name,
                    role,
                },
        } => {
            let db = cli::open(&config).await?;
            let password = read_password()?;
            let u = cli::add_user(&db, &org, &email, &name, &role, &password).await?;
            println!("added {} ({}) to {org} as {role}", u.name, u.email);
            Ok(())
        }
        Command::User {
            command: UserCommand::Password { email },
        } => {
            let db = cli::open(&config).await?;
            let password = read_password()?;
            cli::set_password(&db, &email, &password).await?;
            println!("password set for {email}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { email, name },
        } => {
            let db = cli::open(&config).await?;
            let token = cli::create_token(&db, &email, &name).await?;
            println!("{token}");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { expect_head },
        } => {
            let db = cli::open_with(&config, false).await?;
            let v = store::audit::verify(&db, expect_head.as_ref()).await?;
            if v.intact() {
                println!("{}", v.summary());
                Ok(())
            } else {
                for p in &v.problems {
                    eprintln!("civitas audit verify: {p}");
                }
                anyhow::bail!("{}", v.summary())
            }
        }
        Command::Audit {
            command: AuditCommand::Head,
        } => {
            let db = cli::open_with(&config, false).await?;
            println!("{}", store::audit::head(&db).await?);
            Ok(())
        }
        Command::Backup { file } => {
            let db = cli::open(&config).await?;
            let out = std::fs::File::create(&file)
                .with_context(|| format!("creating {}", file.display()))?;
            let mut out = std::io::BufWriter::new(out);
            let n = store::backup::dump(&db, &mut out).await?;
            std::io::Write::flush(&mut out)?;
            println!("backed up {n} rows to {}", file.display());
            Ok(())
        }
        Command::Restore { file } => {
            let db = cli::open(&config).await?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let n = store::backup::restore(&db, BufReader::new(input)).await?;
            println!("restored {n} rows from {}", file.display());
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", civitas::config::EXAMPLE);
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Mail {
            command: MailCommand::Ingest,
        } => Err(anyhow::anyhow!(
            "mail ingest runs on its own (see civitas mail ingest --help)"
        )),
        Command::Mail {
            command: MailCommand::Poll,
        } => {
            let Some(mailbox) = config.imap_mailbox() else {
                anyhow::bail!(
                    "imap_url: not set (CIVITAS_IMAP_URL or imap_url in the configuration file)"
                );
            };
            let db = cli::open(&config).await?;
            let report = civitas::imap::poll(&db, &mailbox, &config.own_address()).await;
            db.close().await;
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("civitas mail poll: {e:#}");
                    std::process::exit(75);
                }
            };
            for (uid, outcome) in &report.taken {
                println!("message {uid}: {outcome}");
            }
            println!(
                "{} message(s) taken from {}{}",
                report.taken.len(),
                mailbox.label(),
                if report.left > 0 {
                    format!("; {} left for the next poll", report.left)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// This process's resident memory, in bytes (Linux).
    fn resident() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("resident pages in /proc/self/statm");
        pages * 4096
    }

    /// The allocator hands memory back once a burst is over (src/alloc_options.c): a server that goes quiet
    /// after a peak of load does not keep the peak's memory.
    #[test]
    fn memory_freed_after_a_burst_goes_back_to_the_system() {
        const MIB: u64 = 1024 * 1024;
        let before = resident();
        // 64 MiB in 16 KiB blocks (mimalloc's small and medium pages, not its direct mappings), written to.
        let blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1_u8; 16 * 1024]).collect();
        let peak = resident();
        assert!(
            peak >= before + 48 * MIB,
            "the blocks are resident: {before} → {peak}"
        );
        assert_eq!(blocks.iter().map(Vec::len).sum::<usize>(), 64 * 1024 * 1024);
        drop(blocks);
        let after = resident();
        assert!(
            after + 40 * MIB <= peak,
            "freed memory is returned at once: resident {} MiB at the peak, {} MiB after",
            peak / MIB,
            after / MIB
        );
    }
}
