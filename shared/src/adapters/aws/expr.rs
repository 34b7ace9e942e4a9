//! The table port's typed conditions and updates, rendered as DynamoDB expressions: the DynamoDB
//! half of "one source for the conditional-write rules" (the other is `ports::eval`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::table::{Action, Attr, Cmp, Cond, Update};

/// Placeholders of one request: every attribute name and value goes through one, since many of
/// ours (`status`, `type`, `result`, ...) are reserved words.
#[derive(Debug, Default)]
pub struct Expressions {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expressions {
    fn name(&mut self, attribute: &str) -> String {
        let readable = attribute.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let placeholder = match readable {
            true => format!("#{attribute}"),
            false => match self.names.iter().find(|(_, a)| *a == attribute) {
                Some((placeholder, _)) => placeholder.clone(),
                None => format!("#n{}", self.names.len()),
            },
        };
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn condition(&mut self, condition: &Cond) -> String {
        match condition {
            Cond::Exists(a) => format!("attribute_exists({})", self.name(a)),
            Cond::NotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Cond::Compare { attr, op, value } => {
                let name = self.name(attr);
                format!("{name} {} {}", operator(*op), self.value(to_aws(value)))
            }
            Cond::CompareAttrs { left, op, right } => {
                format!("{} {} {}", self.name(left), operator(*op), self.name(right))
            }
            Cond::In { attr, values } => {
                let name = self.name(attr);
                let values: Vec<String> = values.iter().map(|v| self.value(to_aws(v))).collect();
                format!("{name} IN ({})", values.join(", "))
            }
            Cond::And(all) => self.join(all, " AND "),
            Cond::Or(any) => self.join(any, " OR "),
        }
    }

    /// A sort key between `from` and `to`, both included: DynamoDB takes one condition per key,
    /// so a range with two ends is `BETWEEN`.
    pub fn between(&mut self, attribute: &str, from: &str, to: &str) -> String {
        let name = self.name(attribute);
        let (from, to) =
            (self.value(AttributeValue::S(from.into())), self.value(AttributeValue::S(to.into())));
        format!("{name} BETWEEN {from} AND {to}")
    }

    /// A key condition: DynamoDB takes `pk = :v AND sk < :w` without parentheses.
    pub fn key_condition(&mut self, parts: &[Cond]) -> String {
        let parts: Vec<String> = parts.iter().map(|c| self.condition(c)).collect();
        parts.join(" AND ")
    }

    fn join(&mut self, parts: &[Cond], separator: &str) -> String {
        let parts: Vec<String> = parts.iter().map(|c| self.condition(c)).collect();
        format!("({})", parts.join(separator))
    }

    pub fn update(&mut self, update: &Update) -> String {
        let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
        for action in &update.actions {
            let name = self.name(action.attr());
            match action {
                Action::Set(_, v) => set.push(format!("{name} = {}", self.value(to_aws(v)))),
                Action::SetIfMissing(_, v) => {
                    set.push(format!("{name} = if_not_exists({name}, {})", self.value(to_aws(v))))
                }
                Action::Increment(_, by) => {
                    set.push(format!("{name} = {name} + {}", self.value(AttributeValue::N(by.to_string()))))
                }
                Action::Remove(_) => remove.push(name),
                Action::AddNumber(_, by) => {
                    add.push(format!("{name} {}", self.value(AttributeValue::N(by.to_string()))))
                }
                Action::AddToSet(_, v) => {
                    add.push(format!("{name} {}", self.value(AttributeValue::Ss(v.clone()))))
                }
                Action::DeleteFromSet(_, v) => {
                    delete.push(format!("{name} {}", self.value(AttributeValue::Ss(v.clone()))))
                }
            }
        }
        [("SET", set), ("REMOVE", remove), ("ADD", add), ("DELETE", delete)]
            .into_iter()
            .filter(|(_, clauses)| !clauses.is_empty())
            .map(|(keyword, clauses)| format!("{keyword} {}", clauses.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn operator(op: Cmp) -> &'static str {
    match op {
        Cmp::Eq => "=",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
    }
}

pub fn to_aws(value: &Attr) -> AttributeValue {
    match value {
        Attr::S(s) => AttributeValue::S(s.clone()),
        Attr::N(n) => AttributeValue::N(n.clone()),
        Attr::Ss(set) => AttributeValue::Ss(set.clone()),
    }
}

/// An attribute of a type this table never writes (maps, lists, binary, ...) is left out.
pub fn from_aws(value: &AttributeValue) -> Option<Attr> {
    match value {
        AttributeValue::S(s) => Some(Attr::S(s.clone())),
        AttributeValue::N(n) => Some(Attr::N(n.clone())),
        AttributeValue::Ss(set) => Some(Attr::Ss(set.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_updates_render_with_placeholders() {
        let mut e = Expressions::default();
        let claim = Cond::eq("gen", Attr::n(0)).and(Cond::attrs("attempts", Cmp::Lt, "max_attempts")).and(
            Cond::is_in("status", [Attr::s("queued"), Attr::s("retrying")]).or(Cond::cmp(
                "lease_ms",
                Cmp::Lt,
                Attr::n(5),
            )),
        );
        assert_eq!(
            e.condition(&claim),
            "(#gen = :v0 AND #attempts < #max_attempts AND (#status IN (:v1, :v2) OR #lease_ms < :v3))"
        );
        let update = Update::new(vec![
            Action::Set("status".into(), Attr::s("processing")),
            Action::Increment("attempts".into(), 1),
            Action::Remove("lease_ms".into()),
            Action::AddNumber("w-1".into(), 2),
        ]);
        assert_eq!(
            e.update(&update),
            "SET #status = :v4, #attempts = #attempts + :v5 REMOVE #lease_ms ADD #n5 :v6"
        );
        assert_eq!(e.names.get("#n5").map(String::as_str), Some("w-1"));
        assert_eq!(e.values.get(":v5"), Some(&AttributeValue::N("1".into())));
    }
}
