//! Writes a labelled corpus for benchmarks and comparisons:
//! `gen-corpus DIR [MEGABYTES] [DENSITY] [SEED]` writes `DIR/corpus.txt` and
//! `DIR/labels.jsonl`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: gen-corpus DIR [MEGABYTES=100] [DENSITY=0.05] [SEED=2026]");
        return ExitCode::from(2);
    };
    let parse = |i: usize, default: f64| -> Result<f64, String> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse().map_err(|_| format!("not a number: {s}"))
        })
    };
    let (mb, density, seed) = match (parse(1, 100.0), parse(2, 0.05), parse(3, 2026.0)) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("gen-corpus: {e}");
            return ExitCode::from(2);
        }
    };
    let corpus = privctl_corpus::generate(seed as u64, (mb * 1_000_000.0) as usize, density);
    let dir = std::path::Path::new(dir);
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("corpus.txt"), &corpus.text))
        .and_then(|()| std::fs::write(dir.join("labels.jsonl"), corpus.labels_jsonl()));
    if let Err(e) = written {
        eprintln!("gen-corpus: cannot write to {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "{} bytes, {} labels in {}",
        corpus.text.len(),
        corpus.labels.len(),
        dir.display()
    );
    ExitCode::SUCCESS
}
