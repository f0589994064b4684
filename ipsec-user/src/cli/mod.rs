//! clap commands and the ASA-layout and JSON renderers.

pub fn main() -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
