//! Embeds the built-in rule pack: every `rules/**/*.yml` file becomes an entry of
//! `BUILTIN_RULES` (`(relative path, text)`) in `$OUT_DIR/builtin_rules.rs`, so the binary hunts
//! with nothing downloaded. A missing or empty `rules/` folder gives an empty pack.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let rules = manifest.join("rules");
    if rules.is_dir() {
        println!("cargo:rerun-if-changed={}", rules.display());
    } else {
        // Watch the crate folder so that creating `rules/` later rebuilds the pack.
        println!("cargo:rerun-if-changed={}", manifest.display());
    }
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    let mut code = String::from("/// Built-in rules: (path relative to the pack, YAML text).\n");
    code.push_str("pub static BUILTIN_RULES: &[(&str, &str)] = &[\n");
    for file in &files {
        let rel = file.strip_prefix(&rules).unwrap_or(file);
        let _ = writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            rel.display().to_string(),
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("builtin_rules.rs"), code).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
        {
            out.push(path);
        }
    }
}
