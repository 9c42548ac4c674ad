//! Conformance: values, wildcards, escaping, case, null/empty, keywords and every value
//! modifier. Each test names the specification section it checks: [RS …] is
//! `sigma-rules-specification.md`, [MOD …] is `sigma-appendix-modifiers.md`.

mod common;
use common::{check, rejects};
use serde_json::json;

#[test]
fn rs_general_plain_value_is_whole_value_case_insensitive() {
    // [RS General]: strings compare case-insensitively; a plain value must equal the whole value.
    check(
        "sel: {Image: 'C:\\Windows\\cmd.exe'}\ncondition: sel",
        &[json!({"Image": "c:\\windows\\CMD.EXE"})],
        &[
            json!({"Image": "c:\\windows\\cmd.exe.bak"}),
            json!({"Other": "x"}),
        ],
    );
}

#[test]
fn rs_general_case_insensitive_non_ascii() {
    // [RS General] case-insensitive matching applies to non-ASCII text too.
    check(
        "sel: {User|contains: 'ÄDMIN'}\ncondition: sel",
        &[json!({"User": "xädminx"}), json!({"User": "ÄDMIN"})],
        &[json!({"User": "admin"})],
    );
    check(
        "sel: {Name: 'Σοφία'}\ncondition: sel",
        &[json!({"Name": "ΣΟΦΊΑ"})],
        &[json!({"Name": "Sofia"})],
    );
}

#[test]
fn rs_string_wildcards_star_and_question_mark() {
    // [RS String Wildcard]
    check(
        "sel: {CommandLine: '*net? user*'}\ncondition: sel",
        &[json!({"CommandLine": "cmd /c net1 user admin"})],
        &[json!({"CommandLine": "cmd /c net user admin"})],
    );
    // `\*` would be a literal star: a path separator before `*` is written `\\*`.
    check(
        "sel: {Image: 'C:\\\\*\\cmd.exe'}\ncondition: sel",
        &[json!({"Image": "C:\\Windows\\System32\\cmd.exe"})],
        &[json!({"Image": "D:\\x\\cmd.exe"})],
    );
}

#[test]
fn rs_escape_character() {
    // [RS Escape Character]: \* and \? are literal; \\ before a wildcard is a literal backslash.
    check(
        "sel: {F: 'a\\*b'}\ncondition: sel",
        &[json!({"F": "a*b"})],
        &[json!({"F": "axxb"})],
    );
    check(
        "sel: {F: 'a\\?'}\ncondition: sel",
        &[json!({"F": "a?"})],
        &[json!({"F": "ab"})],
    );
    check(
        "sel: {F: 'C:\\\\*'}\ncondition: sel",
        &[json!({"F": "C:\\anything"})],
        &[json!({"F": "C:x"})],
    );
    check(
        "sel: {F: 'x\\\\\\*'}\ncondition: sel",
        &[json!({"F": "x\\*"})],
        &[json!({"F": "x\\abc"})],
    );
    // A backslash before an ordinary character is literal: single and double mean the same.
    check(
        "sel: {F: 'C:\\\\Windows'}\ncondition: sel",
        &[json!({"F": "C:\\Windows"})],
        &[json!({"F": "C:\\\\Windows"})],
    );
}

#[test]
fn rs_numbers_equal_their_decimal_strings() {
    // [RS General] / SPEC_NOTES §3: 4688 and "4688" are the same value.
    check(
        "sel: {EventID: 4688}\ncondition: sel",
        &[json!({"EventID": 4688}), json!({"EventID": "4688"})],
        &[json!({"EventID": 46880})],
    );
    check(
        "sel: {EventID: '4688'}\ncondition: sel",
        &[json!({"EventID": 4688})],
        &[json!({"EventID": 1})],
    );
    check(
        "sel: {Enabled: true}\ncondition: sel",
        &[json!({"Enabled": true}), json!({"Enabled": "True"})],
        &[json!({"Enabled": false})],
    );
}

#[test]
fn rs_lists_or_maps_and() {
    // [RS Detection]: a list of values ORs, a map ANDs, a list of maps ORs.
    check(
        "sel: {A: [x, y], B: z}\ncondition: sel",
        &[json!({"A": "y", "B": "z"})],
        &[json!({"A": "y", "B": "w"}), json!({"A": "q", "B": "z"})],
    );
    check(
        "sel:\n  - {A: x}\n  - {B: y}\ncondition: sel",
        &[json!({"B": "y"})],
        &[json!({"A": "y"})],
    );
}

#[test]
fn rs_arrays_any_value_matches() {
    // SPEC_NOTES §8: a field/value pair matches when any value of a multi-valued field matches.
    check(
        "sel: {Tags: b}\ncondition: sel",
        &[json!({"Tags": ["a", "b"]})],
        &[json!({"Tags": ["a", "c"]})],
    );
}

#[test]
fn rs_special_values_null_and_empty() {
    // [RS Special Field Values]: '' is present-and-empty; null is missing or null.
    check(
        "sel: {F: ''}\ncondition: sel",
        &[json!({"F": ""})],
        &[json!({"G": ""}), json!({"F": "x"}), json!({"F": null})],
    );
    check(
        "sel: {F: null}\ncondition: sel",
        &[json!({"G": 1}), json!({"F": null})],
        &[json!({"F": ""}), json!({"F": "x"})],
    );
    check(
        "sel: {F: []}\ncondition: sel",
        &[json!({"G": 1})],
        &[json!({"F": "x"})],
    );
    assert!(rejects("sel: {F: [null, x]}\ncondition: sel").contains("null"));
    // "not null" is written as the negation of a separate selection.
    check(
        "sel: {F: null}\ncondition: not sel",
        &[json!({"F": ""})],
        &[json!({"G": 1})],
    );
}

#[test]
fn rs_missing_field_is_false_and_its_negation_true() {
    // SPEC_NOTES §8.
    check(
        "sel: {F: x}\ncondition: not sel",
        &[json!({"G": "x"}), json!({"F": "y"})],
        &[json!({"F": "X"})],
    );
}

#[test]
fn rs_keywords_are_substring_searches_over_all_values() {
    // [RS Keywords search]: a plain list ORs; '|all' ANDs. Substring, case-insensitive.
    check(
        "keywords: [mimikatz, 'sekurlsa::*']\ncondition: keywords",
        &[
            json!({"CommandLine": "run MIMIKATZ.exe"}),
            json!({"X": "sekurlsa::logonpasswords"}),
        ],
        &[json!({"CommandLine": "benign"})],
    );
    check(
        "keywords:\n  '|all': [alpha, beta]\ncondition: keywords",
        &[json!({"A": "alpha", "B": "xbetax"})],
        &[json!({"A": "alpha"})],
    );
    check(
        "keyword: 'single'\ncondition: keyword",
        &[json!({"A": "a single b"})],
        &[json!({"A": "none"})],
    );
    // Non-ASCII letters whose lower case is ASCII (KELVIN SIGN -> k, İ -> i + dot) still match
    // the lower-case keyword, as they do for field values.
    check(
        "keywords: [mimikatz, 'admi']\ncondition: keywords",
        &[
            json!({"CommandLine": "run MIMI\u{212A}ATZ.exe"}),
            json!({"User": "ADM\u{130}N"}),
        ],
        &[
            json!({"CommandLine": "MIMI\u{212B}ATZ"}),
            json!({"User": "AD\u{130}"}),
        ],
    );
    assert!(rejects("kw: [null]\ncondition: kw").contains("null"));
}

#[test]
fn mod_contains_startswith_endswith() {
    // [MOD contains, startswith, endswith]
    check(
        "sel: {F|contains: 'mid'}\ncondition: sel",
        &[json!({"F": "aMIDb"})],
        &[json!({"F": "mi d"})],
    );
    check(
        "sel: {F|startswith: 'pre'}\ncondition: sel",
        &[json!({"F": "PREfix"})],
        &[json!({"F": "xpre"})],
    );
    check(
        "sel: {F|endswith: '.exe'}\ncondition: sel",
        &[json!({"F": "a.EXE"})],
        &[json!({"F": "a.exe.txt"})],
    );
    check(
        "sel: {F|contains: ['a*c', 'zz']}\ncondition: sel",
        &[json!({"F": "xabcx"}), json!({"F": "zz"})],
        &[json!({"F": "cba"})],
    );
}

#[test]
fn mod_all_ands_the_list() {
    // [MOD all]
    check(
        "sel: {F|contains|all: [' -enc ', 'hidden']}\ncondition: sel",
        &[json!({"F": "ps -enc AAA -w hidden"})],
        &[json!({"F": "ps -enc AAA"})],
    );
}

#[test]
fn mod_exists() {
    // [MOD exists]: present whatever the content (empty or null count as present).
    check(
        "sel: {F|exists: true}\ncondition: sel",
        &[json!({"F": ""}), json!({"F": null})],
        &[json!({"G": 1})],
    );
    check(
        "sel: {F|exists: false}\ncondition: sel",
        &[json!({"G": 1})],
        &[json!({"F": "x"})],
    );
    assert!(rejects("sel: {F|exists: yes please}\ncondition: sel").contains("boolean"));
    assert!(rejects("sel: {F|exists|contains: true}\ncondition: sel").contains("only"));
}

#[test]
fn mod_cased() {
    // [MOD cased]: case-sensitive, wildcards still apply.
    check(
        "sel: {F|cased: 'AbC*'}\ncondition: sel",
        &[json!({"F": "AbCdef"})],
        &[json!({"F": "abcdef"})],
    );
    check(
        "sel: {F|contains|cased: 'X'}\ncondition: sel",
        &[json!({"F": "aXb"})],
        &[json!({"F": "axb"})],
    );
}

#[test]
fn mod_neq_negates_the_whole_item() {
    // [MOD neq]; choice documented in docs/rules.md: NOT (f=v1 OR f=v2), an absent field passes
    // (pySigma).
    check(
        "sel: {F|neq: [a, b], G: x}\ncondition: sel",
        &[json!({"F": "c", "G": "x"}), json!({"G": "x"})],
        &[json!({"F": "A", "G": "x"}), json!({"F": "b", "G": "x"})],
    );
    check(
        "sel: {N|neq: 5}\ncondition: sel",
        &[json!({"N": 6})],
        &[json!({"N": 5}), json!({"N": "5"})],
    );
}

#[test]
fn mod_windash() {
    // [MOD windash]: -, /, en dash, em dash and horizontal bar are interchangeable.
    let det = "sel: {CommandLine|windash|contains: ' -enc '}\ncondition: sel";
    check(
        det,
        &[
            json!({"CommandLine": "powershell -enc AAA"}),
            json!({"CommandLine": "powershell /enc AAA"}),
            json!({"CommandLine": "powershell \u{2013}enc AAA"}),
            json!({"CommandLine": "powershell \u{2014}enc AAA"}),
            json!({"CommandLine": "powershell \u{2015}enc AAA"}),
        ],
        &[json!({"CommandLine": "powershell _enc AAA"})],
    );
}

#[test]
fn mod_windash_follows_the_specification_where_pysigma_differs() {
    // Documented choice (docs/rules.md): the specification's "all possible permutations" of the
    // five characters, wherever they appear. pySigma expands only a `-` or `/` that starts an
    // option (`\B[-/]\b`), so each of the events below that it would not match is marked.
    // A dash inside a word (pySigma: `start/b` stays as written).
    check(
        "sel: {CommandLine|windash|contains: 'start/b'}\ncondition: sel",
        &[
            json!({"CommandLine": "cmd /c start/b x.exe"}),
            json!({"CommandLine": "cmd /c start-b x.exe"}), // pySigma: no match
            json!({"CommandLine": "cmd /c start\u{2014}b x.exe"}), // pySigma: no match
        ],
        &[json!({"CommandLine": "cmd /c start b x.exe"})],
    );
    // An en dash written in the rule (pySigma: only the en dash itself matches).
    check(
        "sel: {CommandLine|windash|contains: ' \u{2013}nop'}\ncondition: sel",
        &[
            json!({"CommandLine": "powershell \u{2013}nop"}),
            json!({"CommandLine": "powershell -nop"}), // pySigma: no match
            json!({"CommandLine": "powershell /nop"}), // pySigma: no match
        ],
        &[json!({"CommandLine": "powershell nop"})],
    );
    // A dash before a non-word character (pySigma: `- ` stays as written).
    check(
        "sel: {CommandLine|windash|endswith: ' - '}\ncondition: sel",
        &[
            json!({"CommandLine": "tool - "}),
            json!({"CommandLine": "tool / "}), // pySigma: no match
        ],
        &[json!({"CommandLine": "tool _ "})],
    );
    // Each dash character multiplies the values by five: more than five is rejected, not
    // expanded in part.
    assert!(
        rejects("sel: {CommandLine|windash|contains: '-a -b -c -d -e -f'}\ncondition: sel")
            .contains("6 dash characters")
    );
}

#[test]
fn mod_re_and_flags() {
    // [MOD re]: case-sensitive, unanchored search; i, m, s sub-modifiers.
    check(
        "sel: {F|re: 'ab+c'}\ncondition: sel",
        &[json!({"F": "xxabbbcxx"})],
        &[json!({"F": "ABC"})],
    );
    check(
        "sel: {F|re|i: '^abc$'}\ncondition: sel",
        &[json!({"F": "ABC"})],
        &[json!({"F": "xabc"})],
    );
    check(
        "sel: {F|re|m: '^two$'}\ncondition: sel",
        &[json!({"F": "one\ntwo\nthree"})],
        &[json!({"F": "one two"})],
    );
    check(
        "sel: {F|re|s: 'a.b'}\ncondition: sel",
        &[json!({"F": "a\nb"})],
        &[json!({"F": "ab"})],
    );
    check(
        "sel: {F|re: 'a.b'}\ncondition: sel",
        &[json!({"F": "axb"})],
        &[json!({"F": "a\nb"})],
    );
    // Wildcards and escapes are not interpreted in a regex.
    check(
        "sel: {F|re: 'a\\*'}\ncondition: sel",
        &[json!({"F": "a*"})],
        &[json!({"F": "aaa"})],
    );
    assert!(rejects("sel: {F|re: '(unclosed'}\ncondition: sel").contains("regular expression"));
    assert!(rejects("sel: {F|i: 'x'}\ncondition: sel").contains("sub-modifier"));
}

#[test]
fn mod_base64_and_base64offset() {
    // [MOD base64, base64offset]
    check(
        "sel: {F|base64: 'hello'}\ncondition: sel",
        &[json!({"F": "aGVsbG8="})],
        &[json!({"F": "hello"})],
    );
    // "iex" encoded at each of the three offsets, inside longer base64 text.
    let det = "sel: {F|base64offset|contains: 'iex'}\ncondition: sel";
    check(
        det,
        &[
            json!({"F": "aWV4KE5ldy1PYmplY3Q="}),
            json!({"F": "IGlleCgp"}),
            json!({"F": "ICBpZXgo"}),
        ],
        &[json!({"F": "aGVsbG8gd29ybGQ="})],
    );
    assert!(rejects("sel: {F|base64: 'a*'}\ncondition: sel").contains("wildcards"));
}

#[test]
fn mod_utf16_wide_encodings() {
    // [MOD utf16le/wide, utf16be, utf16]: encodings before base64, as in PowerShell -enc.
    check(
        "sel: {F|wide|base64offset|contains: 'iex'}\ncondition: sel",
        &[json!({"F": "powershell -enc aQBlAHgAIAAoAE4AZQB3AA=="})],
        &[json!({"F": "powershell -enc aWV4"})],
    );
    check(
        "sel: {F|utf16be|base64: 'a'}\ncondition: sel",
        &[json!({"F": "AGE="})],
        &[json!({"F": "YQA="})],
    );
    check(
        "sel: {F|utf16|base64: 'a'}\ncondition: sel",
        &[json!({"F": "//5hAA=="})],
        &[json!({"F": "YQA="})],
    );
    check(
        "sel: {F|utf16le|base64: 'a'}\ncondition: sel",
        &[json!({"F": "YQA="})],
        &[json!({"F": "AGE="})],
    );
    assert!(rejects("sel: {F|wide|base64: 'é'}\ncondition: sel").contains("ASCII"));
}

#[test]
fn mod_numeric_comparisons() {
    // [MOD lt, lte, gt, gte]
    check(
        "sel: {N|gt: 10}\ncondition: sel",
        &[json!({"N": 11}), json!({"N": "10.5"})],
        &[json!({"N": 10}), json!({"N": "abc"})],
    );
    check(
        "sel: {N|gte: 10}\ncondition: sel",
        &[json!({"N": 10})],
        &[json!({"N": 9})],
    );
    check(
        "sel: {N|lt: 0}\ncondition: sel",
        &[json!({"N": -1})],
        &[json!({"N": 0})],
    );
    check(
        "sel: {N|lte: 3}\ncondition: sel",
        &[json!({"N": 3})],
        &[json!({"N": 4})],
    );
    assert!(rejects("sel: {N|gt: '5'}\ncondition: sel").contains("number"));
}

#[test]
fn mod_time_parts() {
    // [MOD minute, hour, day, week, month, year]
    let e = json!({"T": "2025-06-15T23:45:10Z"});
    check(
        "sel: {T|hour: 23}\ncondition: sel",
        std::slice::from_ref(&e),
        &[json!({"T": "2025-06-15T08:45:10Z"})],
    );
    check(
        "sel: {T|minute: 45}\ncondition: sel",
        std::slice::from_ref(&e),
        &[json!({"T": "2025-06-15T23:44:10Z"})],
    );
    check(
        "sel: {T|day: 15}\ncondition: sel",
        std::slice::from_ref(&e),
        &[json!({"T": "2025-06-16T23:45:10Z"})],
    );
    check(
        "sel: {T|week: 24}\ncondition: sel",
        std::slice::from_ref(&e),
        &[json!({"T": "2025-06-23T23:45:10Z"})],
    );
    check(
        "sel: {T|month: 6}\ncondition: sel",
        std::slice::from_ref(&e),
        &[json!({"T": "2025-07-15T23:45:10Z"})],
    );
    check(
        "sel: {T|year: 2025}\ncondition: sel",
        &[e],
        &[json!({"T": "2024-06-15 23:45:10"})],
    );
}

#[test]
fn mod_cidr_ipv4_and_ipv6() {
    // [MOD cidr]
    check(
        "sel: {Ip|cidr: ['10.0.0.0/8', 'fe80::/10']}\ncondition: sel",
        &[json!({"Ip": "10.20.30.40"}), json!({"Ip": "FE80::1"})],
        &[
            json!({"Ip": "11.0.0.1"}),
            json!({"Ip": "2001:db8::1"}),
            json!({"Ip": "host"}),
        ],
    );
    assert!(rejects("sel: {Ip|cidr: '10.0.0.1/8'}\ncondition: sel").contains("host bits"));
}

#[test]
fn mod_expand_placeholders() {
    // [MOD expand] / [RS Placeholders]: resolved from configuration; unresolved rejects the rule.
    let mut opts = yagura_sigma::LoadOptions::default();
    opts.placeholders
        .insert("Admins".into(), vec!["alice".into(), "bob*".into()]);
    let yaml = "title: t\nlogsource: {product: test}\ndetection:\n  sel: {User|expand: '%Admins%'}\n  condition: sel\n";
    let set = common::try_rules(yaml, &opts);
    assert!(set.errors.is_empty());
    let plan = yagura_sigma::Plan::compile(&set, &yagura_sigma::Pipeline::passthrough());
    let mut s = plan.scratch();
    for (user, want) in [("alice", true), ("bobby", true), ("carol", false)] {
        let mut out = Vec::new();
        plan.evaluate(&common::record(&json!({ "User": user })), &mut s, &mut out);
        assert_eq!(!out.is_empty(), want, "{user}");
    }
    let reason = common::rejection(yaml);
    assert!(reason.contains("%Admins%"), "{reason}");
    // Without |expand, %x% is literal text.
    check(
        "sel: {F: '%Admins%'}\ncondition: sel",
        &[json!({"F": "%admins%"})],
        &[json!({"F": "alice"})],
    );
}

#[test]
fn mod_fieldref() {
    // [MOD fieldref], also with neq and with contains.
    check(
        "sel: {A|fieldref: B}\ncondition: sel",
        &[json!({"A": "x", "B": "X"})],
        &[json!({"A": "x", "B": "y"}), json!({"A": "x"})],
    );
    check(
        "sel: {A|fieldref|neq: B}\ncondition: sel",
        &[json!({"A": "x", "B": "y"})],
        &[json!({"A": "x", "B": "x"})],
    );
    check(
        "sel: {A|fieldref|contains: B}\ncondition: sel",
        &[json!({"A": "abc", "B": "b"})],
        &[json!({"A": "abc", "B": "z"})],
    );
}

#[test]
fn mod_unknown_modifier_is_rejected() {
    // [MOD]: only the listed modifiers exist.
    assert!(rejects("sel: {F|containz: x}\ncondition: sel").contains("containz"));
}

#[test]
fn mod_expand_placeholders_from_yaml_configuration() {
    // [RS Placeholders]: values come from configuration; one value or a list.
    let opts = yagura_sigma::LoadOptions::default()
        .with_placeholders_yaml("Servers: ['srv-*', db01]\nOne: x\n")
        .unwrap();
    assert_eq!(opts.placeholders["Servers"], ["srv-*", "db01"]);
    assert_eq!(opts.placeholders["One"], ["x"]);
    assert!(yagura_sigma::LoadOptions::default()
        .with_placeholders_yaml("- not a map")
        .is_err());
}
