//! An inference gateway that logs every request through `tracing`, with
//! every line redacted by Infercast's policy before it reaches standard
//! output: the writer is installed once, at start-up, and the service's own
//! logging code stays as it was.
//!
//! `cargo run -p privctl-redact-tracing --example gateway`

use std::error::Error;
use std::path::Path;

use privctl_redact_tracing::RedactingWriter;
use tracing::{error, info, info_span, warn};

/// A request as the gateway sees it: who, from where, what they asked.
struct Request {
    user: &'static str,
    ip: &'static str,
    prompt: &'static str,
    upstream_key: &'static str,
}

const REQUESTS: [Request; 3] = [
    Request {
        user: "ana.souza@example.com",
        ip: "203.0.113.9",
        prompt: "My card 4111 1111 1111 1111 was charged twice, call me on +44 20 7946 0958",
        upstream_key: "sk-proj-4f9Qx7LmT2vR8kWz3NpY6bHc1JdE5sGa0UiO",
    },
    Request {
        user: "li.wei@example.org",
        ip: "2001:db8::8a2e:370:7334",
        prompt:
            "Summarise this: export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        upstream_key:
            "sk-ant-api03-Zq8Lm4Tx9Rw2Kp7Vn3Jb6Hc1Fd5Gs0Ya8Ue2Io4Pl6Mk9Nj3Bh7Vg1Cf5Dx0Sz2Aq4Wt6Er8",
    },
    Request {
        user: "r.k.sharma@example.in",
        ip: "198.51.100.23",
        prompt: "PAN ABCPE1234F, Aadhaar 2345 6789 0124, please update my KYC",
        upstream_key: "AKIAIOSFODNN7EXAMPLE",
    },
];

fn main() -> Result<(), Box<dyn Error>> {
    // Once, at start-up: the policy's rules for prompt content, one
    // redactor shared by every thread, in front of standard output.
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/infercast.toml");
    let policy = privctl_policy::load(&policy)?;
    let writer = RedactingWriter::from_policy(&policy, Some("prompt_content"), std::io::stdout)?;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)?;

    // The service logs as it always did.
    let handles: Vec<_> = REQUESTS
        .iter()
        .enumerate()
        .map(|(i, r)| std::thread::spawn(move || handle(i, r)))
        .collect();
    for h in handles {
        h.join().map_err(|_| "a request handler panicked")?;
    }
    Ok(())
}

fn handle(id: usize, r: &Request) {
    let span = info_span!("request", id, user = r.user, ip = r.ip);
    let _entered = span.enter();
    info!(prompt = r.prompt, "completion requested");
    warn!("upstream rejected key {}: retrying", r.upstream_key);
    error!(
        reply = format!("I cannot reach {} right now", r.user),
        "upstream failed"
    );
}
