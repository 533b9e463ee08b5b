//! Redactors built from a policy's `[redaction]` section.

use std::collections::HashMap;
use std::sync::Arc;

use privctl_policy::model::{Policy, RedactionRule};

use crate::kind::Builtin;
use crate::structured::{FieldPath, FieldPattern, FieldRedactors};
use crate::{Error, KindSet, Operator, PseudonymKey, Redactor, Result, Sealer};

/// The redactors a policy defines for one data type: one for plain text
/// (the rules that name no fields) and one per rule for JSON and CSV fields.
#[derive(Debug)]
pub struct PolicyRedactor {
    text: Option<Redactor>,
    fields: Vec<FieldRule>,
}

#[derive(Debug)]
struct FieldRule {
    include: Vec<FieldPattern>,
    exclude: Vec<FieldPattern>,
    redactor: Redactor,
}

impl PolicyRedactor {
    /// The rules that apply to `data_type` (or, with `None`, the rules that
    /// name no data type). `key` serves the pseudonym operator.
    pub fn new(
        policy: &Policy,
        data_type: Option<&str>,
        key: Option<PseudonymKey>,
    ) -> Result<Self> {
        Self::with_sealer(policy, data_type, key, None)
    }

    /// [`PolicyRedactor::new`], with what the `encrypt` operator seals
    /// with; tokens are bound to `data_type`.
    pub fn with_sealer(
        policy: &Policy,
        data_type: Option<&str>,
        key: Option<PseudonymKey>,
        sealer: Option<Arc<dyn Sealer>>,
    ) -> Result<Self> {
        let secrets = Secrets {
            key,
            sealer,
            data_type: data_type.unwrap_or_default(),
        };
        if let Some(dt) = data_type {
            if !policy.data_types.contains_key(dt) {
                return Err(Error::UnknownDataType(dt.to_owned()));
            }
        }
        let red = &policy.redaction;
        let rules: Vec<&RedactionRule> = red
            .rules
            .iter()
            .filter(|r| match data_type {
                Some(dt) => r.data_types.is_empty() || r.data_types.iter().any(|d| d == dt),
                None => r.data_types.is_empty(),
            })
            .collect();
        let text_rules: Vec<&RedactionRule> = rules
            .iter()
            .copied()
            .filter(|r| r.fields.is_empty())
            .collect();
        let text = if text_rules.is_empty() {
            None
        } else {
            Some(build(policy, &text_rules, &secrets)?)
        };
        let mut fields = Vec::new();
        for rule in &rules {
            fields.push(FieldRule {
                include: rule.fields.iter().map(|f| FieldPattern::parse(f)).collect(),
                exclude: rule
                    .exclude_fields
                    .iter()
                    .map(|f| FieldPattern::parse(f))
                    .collect(),
                redactor: build(policy, &[rule], &secrets)?,
            });
        }
        Ok(PolicyRedactor { text, fields })
    }

    /// The redactor for plain text, if any rule applies to it.
    pub fn text(&self) -> Option<&Redactor> {
        self.text.as_ref()
    }

    /// The redactor for plain text, owned (to share it, say, with a log
    /// writer).
    pub fn into_text(self) -> Option<Redactor> {
        self.text
    }
}

impl FieldRedactors for PolicyRedactor {
    fn for_field(&self, path: &FieldPath) -> Option<&Redactor> {
        self.fields
            .iter()
            .find(|r| {
                (r.include.is_empty() || r.include.iter().any(|p| p.matches(path)))
                    && !r.exclude.iter().any(|p| p.matches(path))
            })
            .map(|r| &r.redactor)
    }
}

/// One redactor for `rules`: the union of their detectors, each with the
/// operator of the first rule naming it, unless `[redaction.operators]`
/// chooses one for that detector.
/// What a policy's redactors share: the pseudonym key, the sealer and the
/// data type tokens are bound to.
struct Secrets<'a> {
    key: Option<PseudonymKey>,
    sealer: Option<Arc<dyn Sealer>>,
    data_type: &'a str,
}

fn build(policy: &Policy, rules: &[&RedactionRule], secrets: &Secrets<'_>) -> Result<Redactor> {
    let red = &policy.redaction;
    let mut kinds = KindSet::none();
    let mut ops: HashMap<String, Operator> = HashMap::new();
    let mut customs: Vec<&privctl_policy::model::CustomDetector> = Vec::new();
    for rule in rules {
        let op = Operator::from_policy(rule.operator, rule.keep_last)?;
        let mut assign = |name: &str| {
            ops.entry(name.to_owned()).or_insert(op);
        };
        for d in &rule.detectors {
            if d == "all" {
                for b in Builtin::ALL {
                    kinds.insert(*b);
                    assign(b.name());
                }
                for c in &red.custom {
                    assign(&c.name);
                    if !customs.iter().any(|x| x.name == c.name) {
                        customs.push(c);
                    }
                }
            } else if let Some(b) = Builtin::from_name(d) {
                kinds.insert(b);
                assign(d);
            } else if let Some(c) = red.custom.iter().find(|c| &c.name == d) {
                assign(d);
                if !customs.iter().any(|x| x.name == c.name) {
                    customs.push(c);
                }
            } else {
                return Err(Error::UnknownDetector(d.clone()));
            }
        }
    }
    let mut b = Redactor::builder().kinds(kinds);
    for (name, op) in ops {
        let op = match red.operators.get(&name) {
            Some(choice) => Operator::from_policy(choice.operator, choice.keep_last)?,
            None => op,
        };
        b = b.operator_for(&name, op);
    }
    for c in customs {
        b = b.custom_detector(&c.name, &c.pattern, &c.keywords, c.validator)?;
    }
    for v in &red.allowlist.values {
        b = b.allow_value(v);
    }
    for p in &red.allowlist.patterns {
        b = b.allow_pattern(p)?;
    }
    if let Some(k) = &secrets.key {
        b = b.pseudonym_key(k.clone());
    }
    if let Some(s) = &secrets.sealer {
        b = b.sealer(Arc::clone(s));
    }
    b.data_type(secrets.data_type).build()
}
