//! The rule cache gives back exactly the YAML documents the parser reads, for every file of
//! SigmaHQ's rule folders in `../shared/sigma`.

use std::path::{Path, PathBuf};
use yagura_sigma::rule::yaml_documents;
use yagura_sigma::RuleCache;

const SIGMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/sigma");

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn every_sigmahq_rule_file_round_trips_through_the_cache() {
    let mut files = Vec::new();
    for e in std::fs::read_dir(SIGMA).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir()
            && p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rules")
        {
            yaml_files(&p, &mut files);
        }
    }
    assert!(files.len() > 3000, "{} rule files", files.len());
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.bin");
    let cold = RuleCache::open(&path);
    for t in &texts {
        cold.documents(t);
    }
    assert_eq!(cold.hits(), 0);
    assert!(cold.save(&path).unwrap());

    let warm = RuleCache::open(&path);
    for (file, text) in files.iter().zip(&texts) {
        assert_eq!(
            warm.documents(text),
            yaml_documents(text),
            "{}",
            file.display()
        );
    }
    assert_eq!(warm.misses(), 0);
    assert_eq!(warm.hits(), texts.len());
}
