use std::net::SocketAddr;

use clap::Parser;
use shop::Fixes;

/// The shop's catalog: talks, their speakers and their prices.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(catalog::DEFAULT_PORT))]
    listen: SocketAddr,
    /// The database: its own SQLite file unless this names another.
    #[arg(long, env = "DATABASE_URL", default_value_t = shop::db::default_url("catalog"))]
    database_url: String,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // ANCHOR: setup
    let telemetry = telemetry::init("catalog")?;
    let db = shop::db::connect(&args.database_url).await?;
    catalog::open(&db).await?;
    shop::server::serve("catalog", args.listen, catalog::app(db, args.fixes)).await?;
    telemetry.shutdown().confirm()?;
    // ANCHOR_END: setup
    Ok(())
}
