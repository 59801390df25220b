//! `menon-harness`: the command line. Parses arguments and hands each subcommand to the
//! module that does the work; nothing else lives here.

mod api;
mod auth;
mod clock;
mod config;
mod dispatch;
mod ids;
mod samples;
mod server;
mod store;
mod target;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{parse_duration, DataArgs, ServeArgs};
use crate::store::{SellerId, SqliteStore, Store};

/// The reference Menon webhook server.
///
/// Start with `menon-harness serve` (no configuration needed: state goes to ./menon-data),
/// then get credentials with `menon-harness token --seller sel_123` (for /api/seller) or
/// `menon-harness api-key create --seller sel_123` (for /v1).
#[derive(Debug, Parser)]
#[command(name = "menon-harness", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server (management API on http://127.0.0.1:8787 by default).
    Serve(ServeArgs),
    /// Print a seller JWT (HS256, signed with the data folder's key) for /api/seller.
    Token(TokenArgs),
    /// Manage API keys for the /v1 routes.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Print the OpenAPI document (regenerate the committed copy with
    /// `menon-harness openapi > harness/openapi.json`).
    Openapi,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The seller the token speaks for (its `sub`), e.g. sel_123.
    #[arg(long)]
    seller: String,
    /// How long the token is valid (e.g. 24h, 30m).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a seller and print it (only its hash is stored).
    Create {
        /// The seller the key belongs to, e.g. sel_123.
        #[arg(long)]
        seller: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => {
            init_tracing();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server::run(
                args,
                Arc::new(SystemClock),
                server::shutdown_signal(),
            ))
        }
        Command::Token(args) => {
            args.data.ensure_data_dir()?;
            let key = auth::JwtKey::load_or_create(&args.data.jwt_key_path())?;
            let token = key.issue(
                &SellerId(args.seller),
                SystemClock.now_unix(),
                args.ttl.as_secs(),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { seller, data },
        } => {
            data.ensure_data_dir()?;
            let store = SqliteStore::open(&data.database_path())?;
            let (key, hash) = auth::new_api_key()?;
            let prefix = auth::api_key_prefix(key.expose());
            store.insert_api_key(&hash, &prefix, &SellerId(seller), SystemClock.now_unix())?;
            println!("{}", key.expose());
            Ok(())
        }
        Command::Openapi => {
            print!("{}", api::openapi::json()?);
            Ok(())
        }
    }
}

/// Structured logs to stderr; `RUST_LOG` filters (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
