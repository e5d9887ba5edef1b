use std::net::SocketAddr;

use clap::Parser;
use shop::Fixes;

/// The shop's pricing: quotes and coupons.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(pricing::DEFAULT_PORT))]
    listen: SocketAddr,
    #[command(flatten)]
    fixes: Fixes,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let telemetry = telemetry::init("pricing")?;
    shop::server::serve("pricing", args.listen, pricing::app(args.fixes)).await?;
    telemetry.shutdown().confirm()?;
    Ok(())
}
