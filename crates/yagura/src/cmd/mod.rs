//! One module per subcommand.

pub mod hunt;
pub mod lint;
pub mod regress;
