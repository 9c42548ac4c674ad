//! Loading the hunt's rules: the built-in pack (unless disabled) and every `--rules` folder.

use std::path::{Path, PathBuf};
use yagura_sigma::{LoadOptions, RuleSet};

use super::builtin::BUILTIN_RULES;

/// Loads the rules; rejections stay in `set.errors` for the caller to report.
pub fn load_rules(builtin: bool, folders: &[PathBuf], opts: &LoadOptions) -> RuleSet {
    let mut set = RuleSet::new();
    if builtin {
        for (rel, text) in BUILTIN_RULES {
            set.add_yaml(&Path::new("builtin").join(rel), text, opts);
        }
    }
    set.load_paths(folders, opts);
    set.finish();
    set
}
