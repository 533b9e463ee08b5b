//! Replays every committed input of every fuzz target: the seed corpora
//! and every input a fuzz run ever crashed on (`fuzz/regressions/TARGET/`;
//! copy a `fuzz/artifacts/TARGET/crash-*` there when fixing it). A target
//! with no input at all fails, so the replay cannot pass by reading nothing.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_committed_input_of_every_target_replays_without_a_failure() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut failures = Vec::new();
    for (name, body) in privctl_fuzz_targets::TARGETS {
        let mut files = inputs(&fuzz.join("corpus").join(name));
        let regressions = inputs(&fuzz.join("regressions").join(name));
        assert!(
            !regressions.is_empty(),
            "fuzz/regressions/{name} is missing"
        );
        files.extend(regressions);
        // A local fuzz run's crashes, when there are any.
        files.extend(inputs(&fuzz.join("artifacts").join(name)));
        assert!(
            !files.is_empty(),
            "fuzz target {name} has no committed input"
        );
        for file in files {
            // A fuzzer running meanwhile may replace its corpus files.
            let data = match std::fs::read(&file) {
                Ok(data) => data,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that fail their target:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_target_of_the_fuzz_crate_is_replayed() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = inputs(&fuzz)
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut replayed: Vec<String> = privctl_fuzz_targets::TARGETS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    replayed.sort();
    assert_eq!(on_disk, replayed);
}
