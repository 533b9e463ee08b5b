//! Sealed tokens (the redaction engine's encrypt operator) on every store:
//! what a token shows, and what opens it.

use std::sync::Arc;

use privctl_redact::{Operator, Redactor, Session};
use privctl_vault::{Error, TokenProblem};

use crate::common::{databases, rt};

fn redactor(sealer: Arc<dyn privctl_redact::Sealer>) -> Redactor {
    Redactor::builder()
        .operator(Operator::Encrypt)
        .sealer(sealer)
        .data_type("prompt_content")
        .build()
        .expect("redactor")
}

#[test]
fn a_token_shows_neither_the_value_nor_its_length_beyond_sixteen_byte_blocks() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let sealer: Arc<dyn privctl_redact::Sealer> =
                Arc::new(vault.token_sealer(None).await.expect("sealer"));
            let r = redactor(sealer);
            let mut lengths = std::collections::BTreeMap::new();
            // Emails of 6 to 60 bytes.
            for n in 0..55 {
                let value = format!("{}@ex.io", "a".repeat(n.max(1)));
                let text = format!("mail {value}");
                let out = r.redact(&text).into_owned();
                let token = out.strip_prefix("mail ").expect("token");
                assert!(token.starts_with("[EMAIL:sealed:AQAAAA"), "{token}");
                assert!(!token.contains(&value));
                assert!(!token.contains(&value[..value.len().min(6)]));
                // The same value twice gives two tokens (a random nonce).
                assert_ne!(r.redact(&text), out);
                let block = value.len() / 16;
                let len = *lengths.entry(block).or_insert(token.len());
                assert_eq!(token.len(), len, "{db_name}: {value}", db_name = db.name);
                let mut opener = vault.token_opener();
                let open = opener
                    .reveal(&out, "prompt_content", "")
                    .await
                    .expect("reveal");
                assert_eq!(open, text);
            }
            // One 16-byte block longer, four base64 characters more in every
            // 3 bytes: 21 or 22 characters.
            let ls: Vec<usize> = lengths.values().copied().collect();
            assert!(
                ls.windows(2).all(|w| (21..=22).contains(&(w[1] - w[0]))),
                "{ls:?}"
            );
        }
    });
}

#[test]
fn a_subjects_tokens_die_with_their_key_and_no_one_elses() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let ana = Arc::new(vault.token_sealer(Some("ana")).await.expect("sealer"));
            let bo = Arc::new(vault.token_sealer(Some("bo")).await.expect("sealer"));
            assert_eq!(format!("{ana:?}"), "TokenSealer { subject_key: true }");
            let r = redactor(Arc::new(vault.token_sealer(None).await.expect("sealer")));
            // One redactor, a session per person.
            let mut for_ana = Session::with_sealer(ana);
            let mut for_bo = Session::with_sealer(bo);
            let text = "card 4111 1111 1111 1111";
            let a = r.redact_in_session(text, &mut for_ana);
            let b = r.redact_in_session(text, &mut for_bo);
            let nobody = r.redact(text).into_owned();
            let mut opener = vault.token_opener();
            for t in [&a, &b, &nobody] {
                assert_eq!(
                    opener.reveal(t, "prompt_content", "").await.expect("open"),
                    text
                );
            }
            vault.shred("ana").await.expect("shred");
            let mut opener = vault.token_opener();
            match opener.reveal(&a, "prompt_content", "").await {
                Err(Error::Token {
                    offset: 5,
                    problem: TokenProblem::KeyGone(_),
                    ..
                }) => {}
                other => panic!("{}: {other:?}", db.name),
            }
            assert_eq!(
                opener.reveal(&b, "prompt_content", "").await.expect("bo"),
                text
            );
            assert_eq!(
                opener
                    .reveal(&nobody, "prompt_content", "")
                    .await
                    .expect("nobody"),
                text
            );
            // The vault's own token key destroyed: its tokens are gone, and
            // revealing makes no new key.
            vault
                .forget_epochs(privctl_vault::tokens::TOKEN_PURPOSE, 1)
                .await
                .expect("forget");
            for _ in 0..2 {
                match vault
                    .token_opener()
                    .reveal(&nobody, "prompt_content", "")
                    .await
                {
                    Err(Error::Token {
                        problem: TokenProblem::TokenKeyGone,
                        ..
                    }) => {}
                    other => panic!("{}: {other:?}", db.name),
                }
            }
            assert!(matches!(
                vault.token_sealer(Some("ana")).await,
                Err(Error::Shredded(_))
            ));
            // Moved to a field, or read as another data type: refused.
            for (dt, field) in [
                ("prompt_content", "messages[*].content"),
                ("request_logs", ""),
            ] {
                match opener.reveal(&b, dt, field).await {
                    Err(Error::Token {
                        problem: TokenProblem::DoesNotOpen { .. },
                        ..
                    }) => {}
                    other => panic!("{}: {other:?}", db.name),
                }
            }
        }
    });
}
