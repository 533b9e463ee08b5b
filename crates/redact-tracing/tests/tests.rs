//! The example gateway, run as the service it is: its output holds its log
//! lines, and no value any detector finds.

use std::path::PathBuf;
use std::process::Command;

use privctl_redact::Redactor;

/// The example binary `cargo test` built beside this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds examples (run it for this package or the workspace)",
        path.display()
    );
    path
}

#[test]
fn the_gateway_example_logs_no_detected_value() {
    let out = Command::new(example("gateway"))
        .output()
        .expect("the gateway example runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let stderr = String::from_utf8(out.stderr).expect("UTF-8");
    // Every request logged its three events, with its fields.
    assert_eq!(stdout.lines().count(), 9, "{stdout}");
    assert_eq!(
        stdout.matches("completion requested").count(),
        3,
        "{stdout}"
    );
    assert_eq!(stdout.matches("upstream failed").count(), 3, "{stdout}");
    assert!(stdout.contains(r#"user="[EMAIL]""#), "{stdout}");
    assert!(stdout.contains("[CREDIT_CARD]"), "{stdout}");
    assert!(
        stdout.contains("upstream rejected key [AWS_ACCESS_KEY]"),
        "{stdout}"
    );
    // Nothing any detector finds is left, in either stream.
    let all = Redactor::builder().build().expect("redactor");
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        let found = all.find(text);
        assert!(
            found.is_empty(),
            "{name} holds {:?}",
            found
                .iter()
                .map(|f| (f.kind.name(), &text[f.range()]))
                .collect::<Vec<_>>()
        );
    }
    for planted in [
        "ana.souza@example.com",
        "4111 1111 1111 1111",
        "ABCPE1234F",
        "203.0.113.9",
    ] {
        assert!(!stdout.contains(planted), "{planted} in {stdout}");
    }
}
