//! Message templates: `Failed {system.auth.ssh.method} for {user.name} from {source.ip} port
//! {source.port}`. A capture ends where the next literal starts (the nearest one), or, at the
//! end of the template, at the next space; `{name*}` at the end takes the rest of the line.
//! Text after the template's last literal is allowed. Matching allocates nothing.

/// Up to this many captures per template.
pub(crate) const MAX_CAPS: usize = 8;

/// Captured `(name, value)` pairs.
pub(crate) type Caps<'a> = [(&'static str, &'a str); MAX_CAPS];

/// The literal text before the first capture (a cheap prefilter: `msg.starts_with`).
pub(crate) fn lead(tmpl: &str) -> &str {
    &tmpl[..tmpl.find('{').unwrap_or(tmpl.len())]
}

/// Matches `s` against `tmpl`; on success returns the number of captures written to `caps`.
pub(crate) fn matches<'a>(tmpl: &'static str, s: &'a str, caps: &mut Caps<'a>) -> Option<usize> {
    let mut t = tmpl;
    let mut pos = 0;
    let mut n = 0;
    loop {
        let lit_end = t.find('{').unwrap_or(t.len());
        let lit = &t[..lit_end];
        if !s.get(pos..)?.starts_with(lit) {
            return None;
        }
        pos += lit.len();
        if lit_end == t.len() {
            return Some(n);
        }
        let close = t[lit_end..].find('}')? + lit_end;
        let name = &t[lit_end + 1..close];
        t = &t[close + 1..];
        let next_end = t.find('{').unwrap_or(t.len());
        let next = &t[..next_end];
        let rest = &s[pos..];
        let (name, end) = if let Some(name) = name.strip_suffix('*') {
            (name, rest.len())
        } else if next.is_empty() {
            (name, rest.find(' ').unwrap_or(rest.len()))
        } else {
            (name, rest.find(next)?)
        };
        if n < MAX_CAPS {
            caps[n] = (name, &rest[..end]);
            n += 1;
        }
        pos += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures() {
        let mut caps: Caps = [("", ""); MAX_CAPS];
        let t = "Failed {m} for invalid user {u} from {ip} port {port}";
        let n = matches(
            t,
            "Failed password for invalid user a b from 1.2.3.4 port 22 ssh2",
            &mut caps,
        )
        .unwrap();
        assert_eq!(
            &caps[..n],
            &[
                ("m", "password"),
                ("u", "a b"),
                ("ip", "1.2.3.4"),
                ("port", "22")
            ]
        );
        assert!(matches(
            t,
            "Failed password for root from 1.2.3.4 port 22",
            &mut caps
        )
        .is_none());
        let n = matches(
            "Invalid user {u} from {ip}",
            "Invalid user  from 1.2.3.4",
            &mut caps,
        )
        .unwrap();
        assert_eq!(&caps[..n], &[("u", ""), ("ip", "1.2.3.4")]);
        let n = matches("x {rest*}", "x a b c", &mut caps).unwrap();
        assert_eq!(caps[..n], [("rest", "a b c")]);
        assert_eq!(lead(t), "Failed ");
    }
}
