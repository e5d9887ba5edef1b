use std::net::SocketAddr;

use clap::Parser;
use shop::Fixes;

/// The shop's inventory: seats left and reservations.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(inventory::DEFAULT_PORT))]
    listen: SocketAddr,
    /// The database: its own SQLite file unless this names another.
    #[arg(long, env = "DATABASE_URL", default_value_t = shop::db::default_url("inventory"))]
    database_url: String,
    /// Start every talk with this many seats instead of its room's capacity.
    #[arg(long, env = "SEATS_PER_TALK")]
    seats_per_talk: Option<u32>,
    /// Give a new database's audit log this many records of history.
    #[arg(long, env = "AUDIT_HISTORY")]
    audit_history: Option<u32>,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("inventory")?;
    let db = shop::db::connect_for_writes(&args.database_url).await?;
    let stock = args
        .seats_per_talk
        .map_or(inventory::Stock::AsRecorded, inventory::Stock::PerTalk);
    let inventory = inventory::open(db, stock, args.fixes).await?;
    if let Some(rows) = args.audit_history {
        inventory::audit::seed_history(inventory.db(), rows).await?;
    }
    shop::server::serve(
        "inventory",
        args.listen,
        inventory::app(inventory, args.fixes),
    )
    .await?;
    telemetry.shutdown().confirm()?;
    Ok(())
}
