use std::net::SocketAddr;

use clap::Parser;

/// The shop's catalog: talks and their prices.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value_t = shop::server::default_listen(catalog::DEFAULT_PORT))]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // ANCHOR: setup
    let telemetry = telemetry::init("catalog")?;
    shop::server::serve("catalog", args.listen, catalog::app()).await?;
    telemetry.shutdown();
    // ANCHOR_END: setup
    Ok(())
}
