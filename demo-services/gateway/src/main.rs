use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use gateway::Peers;
use shop::{Fixes, Peer};

/// The shop's public JSON API.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(gateway::DEFAULT_PORT))]
    listen: SocketAddr,
    #[arg(long, env = "CATALOG_URL", default_value = "http://127.0.0.1:8081")]
    catalog_url: String,
    #[arg(long, env = "INVENTORY_URL", default_value = "http://127.0.0.1:8082")]
    inventory_url: String,
    #[arg(long, env = "PRICING_URL", default_value = "http://127.0.0.1:8083")]
    pricing_url: String,
    #[arg(long, env = "PAYMENTS_URL", default_value = "http://127.0.0.1:8084")]
    payments_url: String,
    /// Milliseconds a peer has to answer before the gateway answers 504.
    #[arg(long, env = "PEER_TIMEOUT_MS", default_value_t = 2000)]
    peer_timeout_ms: u64,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("gateway")?;
    let timeout = Duration::from_millis(args.peer_timeout_ms);
    let peers = Peers {
        catalog: Peer::with_timeout("catalog", args.catalog_url, timeout),
        inventory: Peer::with_timeout("inventory", args.inventory_url, timeout),
        pricing: Peer::with_timeout("pricing", args.pricing_url, timeout),
        payments: Peer::with_timeout("payments", args.payments_url, timeout),
    };
    shop::server::serve("gateway", args.listen, gateway::app(peers, args.fixes)).await?;
    telemetry.shutdown().confirm()?;
    Ok(())
}
