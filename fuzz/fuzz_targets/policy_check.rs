//! Any bytes given to the policy checker: it never panics, every location it
//! reports lies inside the input, and the machine outputs always render.

#![no_main]

use libfuzzer_sys::fuzz_target;
use privctl_policy::render::{self, FileOutcome, FileReport};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let report = privctl_policy::check_str(src);
    for d in &report.diagnostics {
        if let Some(loc) = &d.location {
            assert!(loc.offset + loc.length <= src.len(), "location past the end");
            assert!(loc.line >= 1 && loc.column >= 1);
        }
        let _ = d.display("fuzz.toml").to_string();
    }
    if report.policy.is_none() {
        assert!(report.has_errors(), "a policy that did not parse must say why");
    }
    let files = [FileReport {
        path: "fuzz.toml".to_owned(),
        outcome: FileOutcome::Checked(Box::new(report)),
    }];
    let _ = render::to_json(&files).to_string();
    let _ = render::to_sarif(&files).to_string();
});
