//! `slides`: the command behind `just slides`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "slides",
    about = "Render the talk to one self-contained HTML page"
)]
struct Cli {
    /// The talk, in Markdown.
    #[arg(long, default_value = "slides/talk.md")]
    source: PathBuf,
    /// Where to write the page.
    #[arg(long, default_value = "target/slides/index.html")]
    out: PathBuf,
    /// Serve the talk on localhost instead, rendered on every reload.
    #[arg(long)]
    serve: bool,
    /// The port to serve on.
    #[arg(long, default_value_t = 8000)]
    port: u16,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // Render once first: a talk that does not render fails here, loudly,
    // rather than in front of the room.
    let rendered = slides::render_file(&cli.source)?;
    if cli.serve {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{} (try --port)", cli.port))?;
        println!(
            "{} slides on http://{} (reload after editing {}; Ctrl-C to stop)",
            rendered.slides,
            listener.local_addr()?,
            cli.source.display()
        );
        slides::serve::serve(listener, cli.source).await?;
    } else {
        if let Some(dir) = cli.out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&cli.out, &rendered.html)
            .with_context(|| format!("cannot write {}", cli.out.display()))?;
        println!(
            "{} slides in {}: open it in a browser (→ next, n notes, s speaker view)",
            rendered.slides,
            cli.out.display()
        );
    }
    Ok(())
}
