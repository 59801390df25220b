//! `menon-harness`: the command line. Parses arguments and hands each subcommand to the
//! module that does the work; nothing else lives here.

mod bench;
mod demo;
mod health;

// The server's modules under their old names, so `crate::store` and the like read the same
// in the binary's own modules.
use menon_harness_common::{ids, samples};
use menon_harness_server::{
    api, auth, clock, config, dashboard, dispatch, metrics, seal, server, service, store, target,
};

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use menon_grader::{grade, replay};

use crate::clock::{Clock, ScaledClock, SharedClock, SystemClock};
use crate::config::{DataArgs, ServeArgs};
use crate::store::SellerId;

/// The reference Menon webhook server, and the conformance grader for webhook receivers.
///
/// `menon-harness demo` shows everything at once: the server, the bundled example receiver
/// registered through the API, the 21 fixture events delivered, the receiver graded and
/// the HTML report written; the server and its dashboard keep running until Ctrl-C.
///
/// Server: `menon-harness serve` (no configuration needed: state goes to ./menon-data),
/// then get credentials with `menon-harness token --seller sel_123` (for /api/seller) or
/// `menon-harness api-key create --seller sel_123` (for /v1). `emit` publishes an event
/// into the queue without the API, `bench` measures the queue and dispatcher, `openapi`
/// prints the API's OpenAPI document.
///
/// Receivers: `menon-harness grade --url URL --secret SECRET` (or `grade -- CMD` to start
/// the receiver too) checks one against docs/PROTOCOL.md §7; `replay DIR --url URL
/// --secret SECRET` sends it a folder of event envelopes, signed.
#[derive(Debug, Parser)]
#[command(name = "menon-harness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server (management API on http://127.0.0.1:8787 by default).
    Serve(ServeArgs),
    /// Print a seller JWT (HS256, signed with the data folder's key) for /api/seller;
    /// `token revoke` revokes one.
    Token(TokenArgs),
    /// Manage API keys for the /v1 routes.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// The key that seals webhook secrets in the database (`secret.key` in the data
    /// folder, or MENON_SECRET_KEY).
    SecretKey {
        #[command(subcommand)]
        command: SecretKeyCommand,
    },
    /// Publish an event straight into the data folder's queue (no server needed; a
    /// running `serve` on the same folder picks it up within a second). Prints the event
    /// id and the number of deliveries queued.
    Emit(EmitArgs),
    /// Measure the queue and dispatcher locally: publish events fanned out to a local
    /// receiver, print deliveries/s, publish→delivered p50/p99 and peak RSS (use
    /// `cargo run --release`).
    Bench(bench::BenchArgs),
    /// Everything at once: the server, the bundled example receiver registered through the
    /// API, the 21 fixture events delivered, the receiver graded, the HTML report written;
    /// then the server and dashboard keep running until Ctrl-C.
    Demo(demo::DemoArgs),
    /// Send a folder of event envelopes to a receiver, signed, with a progress bar and a
    /// summary. Exit status 0 (all acknowledged), 1 (one was not), 2 (nothing sent).
    Replay(replay::ReplayArgs),
    /// Grade a webhook receiver against docs/PROTOCOL.md §7: signatures, idempotency, fast 200s.
    /// Exit status 0 (conforming), 1 (a case failed), 2 (could not run).
    Grade(grade::GradeArgs),
    /// Ask a running server whether it is up (GET /healthz): exit status 0 when it
    /// answers 2xx, 1 otherwise. For container health checks.
    Health(health::HealthArgs),
    /// Print the OpenAPI document (regenerate the committed copy with
    /// `menon-harness openapi > harness/openapi.json`).
    Openapi,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct TokenArgs {
    #[command(subcommand)]
    command: Option<TokenCommand>,
    /// The seller the token speaks for (its `sub`), e.g. sel_123.
    #[arg(long, value_parser = seller_arg, required = true)]
    seller: Option<SellerId>,
    /// How long the token is valid (e.g. 24h, 30m); at most 720h (30 days).
    #[arg(long, default_value = "24h", value_parser = auth::parse_token_ttl)]
    ttl: Duration,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Revoke a seller token: the server refuses it from its next request on, and ends
    /// the dashboard sessions it started. Prints its `jti`.
    Revoke {
        /// The token's `jti` (tok_…), or the whole token.
        token: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Args)]
struct EmitArgs {
    /// The seller whose webhooks receive it, e.g. sel_123.
    #[arg(long, value_parser = seller_arg)]
    seller: SellerId,
    /// The event type, one of the 21 (e.g. listing.created).
    #[arg(
        long = "type",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    event_type: Option<String>,
    /// The payload, a JSON object [default: {}].
    #[arg(long, requires = "event_type")]
    data: Option<String>,
    /// An envelope file (e.g. fixtures/events/listing.created.json): its `type` and
    /// `data` are sent as a new event (new id, `created_at` now).
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    #[command(flatten)]
    store: DataArgs,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a seller and print it (only its hash is stored).
    Create {
        /// The seller the key belongs to, e.g. sel_123.
        #[arg(long, value_parser = seller_arg)]
        seller: SellerId,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum SecretKeyCommand {
    /// Seal every webhook secret again under a new key, in one transaction. Stop every
    /// `serve` on the database first. With MENON_SECRET_KEY set, prints the new key to set
    /// in its place; else replaces the key file.
    Rotate {
        #[command(flatten)]
        data: DataArgs,
    },
}

fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Grade(args) => grade::main(args),
        Command::Health(args) => match health::check(&args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                1
            }
        },
        Command::Replay(args) => replay::main(args),
        Command::Demo(args) => demo::main(args).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            2
        }),
        other => match run(other) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
    };
    ExitCode::from(code)
}

fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(args) => {
            init_tracing();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let clock: SharedClock = if (args.time_scale - 1.0).abs() > f64::EPSILON {
                Arc::new(ScaledClock::anchored(args.time_scale, args.time_scale_from))
            } else {
                Arc::new(SystemClock)
            };
            runtime.block_on(server::run(args, clock, server::shutdown_signal()))
        }
        Command::Token(TokenArgs {
            command: Some(TokenCommand::Revoke { token, data }),
            ..
        }) => {
            data.ensure_data_dir()?;
            let key = auth::JwtKey::load_or_create(&data.jwt_key_path())?;
            let store = store::open(&data.database())?;
            let revoked =
                service::access::revoke(store.as_ref(), &key, &token, SystemClock.now_unix())?;
            println!("{}", revoked.jti);
            Ok(())
        }
        Command::Token(args) => {
            let seller = args.seller.ok_or("give --seller <id>")?;
            args.data.ensure_data_dir()?;
            let key = auth::JwtKey::load_or_create(&args.data.jwt_key_path())?;
            let token = key.issue(&seller, SystemClock.now_unix(), args.ttl.as_secs())?;
            println!("{token}");
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { seller, data },
        } => {
            data.ensure_data_dir()?;
            let store = store::open(&data.database())?;
            let (key, hash) = auth::new_api_key()?;
            let prefix = auth::api_key_prefix(key.expose());
            store.insert_api_key(&hash, &prefix, &seller, SystemClock.now_unix())?;
            println!("{}", key.expose());
            Ok(())
        }
        Command::SecretKey {
            command: SecretKeyCommand::Rotate { data },
        } => {
            data.ensure_data_dir()?;
            let store = store::open(&data.database())?;
            if std::env::var_os("MENON_SECRET_KEY").is_some() {
                let old = seal::Sealer::new(&data.secret_key()?);
                let new = seal::SecretKey::generate()?;
                let resealed = seal::reseal_all(store.as_ref(), &old, &seal::Sealer::new(&new))?;
                eprintln!(
                    "sealed {resealed} secrets under a new key: set MENON_SECRET_KEY to the \
                     line below before starting serve"
                );
                println!("{}", new.to_text());
            } else {
                let resealed = seal::rotate_key_file(store.as_ref(), &data.secret_key_path())?;
                eprintln!(
                    "sealed {resealed} secrets under a new key in {}",
                    data.secret_key_path().display()
                );
            }
            Ok(())
        }
        Command::Emit(args) => emit(args),
        Command::Bench(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(bench::run(args))
        }
        Command::Grade(_) | Command::Replay(_) | Command::Demo(_) | Command::Health(_) => {
            Err("handled in main".into())
        }
        Command::Openapi => {
            print!("{}", api::openapi::json()?);
            Ok(())
        }
    }
}

/// `menon-harness emit`: builds the event like `POST /v1/events` and queues it in the
/// data folder's database directly.
fn emit(args: EmitArgs) -> Result<(), Box<dyn std::error::Error>> {
    use serde_json::{Map, Value};
    let (kind, data) = match (&args.file, args.event_type) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut envelope: Map<String, Value> = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a JSON object: {e}", path.display()))?;
            let kind = match envelope.remove("type") {
                Some(Value::String(kind)) => kind,
                _ => return Err(format!("{} has no string `type`", path.display()).into()),
            };
            let data = match envelope.remove("data") {
                Some(Value::Object(data)) => data,
                None => Map::new(),
                Some(_) => {
                    return Err(format!("`data` in {} is not an object", path.display()).into())
                }
            };
            (kind, data)
        }
        (None, Some(kind)) => {
            let data = match args.data.as_deref() {
                Some(text) => serde_json::from_str::<Map<String, Value>>(text)
                    .map_err(|e| format!("--data must be a JSON object: {e}"))?,
                None => Map::new(),
            };
            (kind, data)
        }
        (None, None) => return Err("give --type (with --data) or --file".into()),
    };
    let event = service::events::build(args.seller, &kind, data, SystemClock.now_unix())?;
    args.store.ensure_data_dir()?;
    let store = store::open(&args.store.database())?;
    let queued = store.publish_event(&event)?;
    println!("{} {queued}", event.id);
    Ok(())
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

/// `--seller`: a seller id as the server accepts it (one rule, `auth::parse_seller_id`).
fn seller_arg(text: &str) -> Result<SellerId, String> {
    auth::parse_seller_id(text).ok_or_else(|| {
        format!("{text:?} is not a seller id: give 1 to 128 characters, no control characters")
    })
}
