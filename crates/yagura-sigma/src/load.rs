//! Loading rules as `hunt` and `serve` do: the built-in pack (unless disabled) and every `--rules` folder,
//! through the rule cache (see [`yagura_sigma::RuleCache`]) unless it is disabled.

use crate::builtin::BUILTIN_RULES;
use crate::{LoadOptions, RuleCache, RuleSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the rules; rejections stay in `set.errors` for the caller to report. With `cache_dir`,
/// the YAML of the `--rules` files comes from (and goes to) the cache there; a cache that
/// cannot be written is passed to `cache_not_written` (file, reason): rules still load.
pub fn load_rules(
    builtin: bool,
    folders: &[PathBuf],
    opts: &LoadOptions,
    cache_dir: Option<&Path>,
    cache_not_written: impl FnOnce(&Path, &str),
) -> RuleSet {
    let mut set = RuleSet::new();
    if builtin {
        for (rel, text) in BUILTIN_RULES {
            set.add_yaml(&Path::new("builtin").join(rel), text, opts);
        }
    }
    let cache_file = cache_dir.filter(|_| !folders.is_empty()).map(|dir| {
        let roots: Vec<&Path> = folders.iter().map(PathBuf::as_path).collect();
        dir.join(RuleCache::file_name(&roots))
    });
    let mut opts = opts.clone();
    opts.cache = cache_file.as_deref().map(|f| Arc::new(RuleCache::open(f)));
    set.load_paths(folders, &opts);
    if let (Some(cache), Some(file)) = (&opts.cache, &cache_file) {
        if let Err(e) = cache.save(file) {
            cache_not_written(file, &e.to_string());
        }
    }
    set.finish();
    set
}

/// Where hunts keep their rule cache: `$YAGURA_CACHE_DIR`, else `$XDG_CACHE_HOME/yagura`, else
/// `$HOME/.cache/yagura`; `None` when none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("YAGURA_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("yagura")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("yagura")))
}
