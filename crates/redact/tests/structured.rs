//! JSON, JSONL and CSV redacted value by value with a policy's field rules.

use privctl_redact::structured::{redact_csv, redact_json, redact_jsonl};
use privctl_redact::{PolicyRedactor, Redactor, Session};

fn policy(extra: &str) -> privctl_policy::Policy {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/infercast.toml"
    ))
    .expect("policy");
    let src = src.replace(
        "[[redaction.rules]]\ndata_types = [\"prompt_content\"]",
        &format!("{extra}[[redaction.rules]]\ndata_types = [\"prompt_content\"]"),
    );
    let report = privctl_policy::check_str(&src);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.policy.expect("policy")
}

#[test]
fn json_fields_are_chosen_by_path() {
    let p = policy(
        "[[redaction.rules]]\ndata_types = [\"prompt_content\"]\nfields = [\"messages[*].content\"]\nexclude_fields = [\"messages[*].content.meta\"]\ndetectors = [\"email\"]\noperator = \"mask\"\nkeep_last = 4\n\n",
    );
    let pr = PolicyRedactor::new(&p, Some("prompt_content"), None).expect("redactor");
    let input = r#"{"user":"ana@example.com","messages":[{"role":"user","content":"mail li@example.com"}],"n":4111111111111111}"#;
    let mut out = Vec::new();
    let n = redact_json(input.as_bytes(), &mut out, &pr, &mut Session::new()).expect("json");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "{\"user\":\"[EMAIL]\",\"messages\":[{\"role\":\"user\",\"content\":\"mail **@******e.com\"}],\"n\":4111111111111111}\n"
    );
    assert_eq!(n, 2);
}

#[test]
fn jsonl_reports_the_line_of_bad_json() {
    let r = Redactor::builder().build().expect("redactor");
    let input = "{\"a\":\"ana@example.com\"}\n\n{\"b\": oops}\n";
    let mut out = Vec::new();
    let err = redact_jsonl(
        input.as_bytes(),
        &mut out,
        &r,
        &mut Session::new(),
        &mut |_| {},
    )
    .expect_err("bad line");
    assert!(
        err.to_string().starts_with("line 3: not valid JSON"),
        "{err}"
    );
    let mut out = Vec::new();
    let n = redact_jsonl(
        "{\"a\":\"ana@example.com\"}\n\n".as_bytes(),
        &mut out,
        &r,
        &mut Session::new(),
        &mut |_| {},
    )
    .expect("jsonl");
    assert_eq!(
        (n, String::from_utf8(out).expect("utf-8")),
        (1, "{\"a\":\"[EMAIL]\"}\n\n".to_owned())
    );
}

#[test]
fn csv_columns_are_chosen_by_name() {
    let p = policy(
        "[[redaction.rules]]\ndata_types = [\"prompt_content\"]\nfields = [\"email\"]\ndetectors = [\"all\"]\noperator = \"remove\"\n\n",
    );
    let pr = PolicyRedactor::new(&p, Some("prompt_content"), None).expect("redactor");
    let input = "email,note\nana@example.com,\"call +1 415-555-2671, thanks\"\n";
    let mut out = Vec::new();
    redact_csv(input.as_bytes(), &mut out, &pr, &mut Session::new()).expect("csv");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "email,note\n,\"call [PHONE], thanks\"\n"
    );
}

#[test]
fn seed_policies_build_redactors() {
    for name in [
        "infercast",
        "inferencehub",
        "inferexai",
        "cheapestinference",
        "infrpool",
    ] {
        let path = format!("{}/../../policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let p = privctl_policy::load(std::path::Path::new(&path)).expect("policy");
        let data_type = (name == "infercast").then_some("prompt_content");
        let pr = PolicyRedactor::new(&p, data_type, None).expect(name);
        assert!(pr.text().is_some(), "{name} has a text rule");
    }
    let p = privctl_policy::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/inferexai.toml"
    )))
    .expect("policy");
    let pr = PolicyRedactor::new(&p, None, None).expect("redactor");
    let r = pr.text().expect("text rule");
    assert_eq!(
        r.redact("aadhaar 2345 6789 0124, pan ABCPE1234F, mail ana@example.com"),
        "aadhaar **** **** 0124, pan ******234F, mail [EMAIL]"
    );
    assert!(PolicyRedactor::new(&p, Some("nope"), None).is_err());
}
