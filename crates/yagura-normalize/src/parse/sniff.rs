//! Telling text logs from other files, and the clock of a file's records.

use super::{Outcome, Parser, SourceType};
use yagura_event::Record;

/// Lines of a file's head looked at to tell whether it is a text log.
const SNIFF_LINES: usize = 32;

/// Whether the first complete lines of a text file are a log: the first one or a third of them
/// are recognised by the parsers (a Zeek TSV header counts at once). Comment lines (`#`, as in
/// test logs that annotate every line) do not count.
pub fn is_text_log(head: &str) -> bool {
    let mut parser = Parser::new(SourceType::Auto);
    let mut rec = Record::new();
    let (mut seen, mut known, mut first_known) = (0usize, 0usize, false);
    for line in head.lines().take(SNIFF_LINES) {
        if line.starts_with("#separator") || line.starts_with("#fields") {
            return true;
        }
        if line.starts_with('#') {
            continue;
        }
        match parser.parse(line, 0, &mut rec) {
            Outcome::Skip => {}
            Outcome::Event { source, .. } => {
                seen += 1;
                if !matches!(source, SourceType::Unknown | SourceType::Json) {
                    known += 1;
                    first_known |= seen == 1;
                }
            }
        }
    }
    // Multi-line messages (indented continuations) are not recognised on their own: a first
    // line that is, or a third of the lines, will do.
    first_known || (known > 0 && known * 3 >= seen)
}

/// A file's modification time, Unix ms (the year of RFC 3164 timestamps, and the time of
/// records without one); now when unknown.
pub fn file_mtime_ms(path: &std::path::Path) -> i64 {
    let t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now());
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_text_logs() {
        assert!(is_text_log(
            "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo\n"
        ));
        assert!(is_text_log(
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n"
        ));
        assert!(is_text_log("#separator \\x09\n#fields\tts\n"));
        assert!(!is_text_log("hello world\nthis is prose\n"));
    }
}
