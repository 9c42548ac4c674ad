//! One module per subcommand.

pub mod alerts;
pub mod data;
pub mod hunt;
pub mod lint;
pub mod regress;
pub mod serve;
pub mod store;

/// Rule-loading options shared by the commands: placeholder values from `--placeholders FILE`.
pub fn load_options(
    placeholders: Option<&std::path::Path>,
) -> anyhow::Result<yagura_sigma::LoadOptions> {
    let opts = yagura_sigma::LoadOptions::default();
    let Some(p) = placeholders else {
        return Ok(opts);
    };
    let text = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    opts.with_placeholders_yaml(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}
