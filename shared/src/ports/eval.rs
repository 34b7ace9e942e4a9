//! DynamoDB's semantics for the table port's typed conditions and updates, evaluated in memory:
//! the in-memory table's half of "one source for the conditional-write rules".

use std::cmp::Ordering;

use super::table::{Action, Attr, Cmp, Cond, Item, Update};

/// DynamoDB's item size limit.
pub const ITEM_SIZE_MAX: usize = 400 * 1024;

/// Why an update cannot be applied (DynamoDB answers these with a ValidationException).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("two actions of one update name attribute {0}")]
    Overlap(String),
    #[error("the update refers to attribute {0}, which does not exist in the item")]
    Missing(String),
    #[error("attribute {0} has the wrong type for this action")]
    WrongType(String),
    #[error("the item would be {0} bytes, over DynamoDB's 400 KB")]
    TooLarge(usize),
}

/// Whether `condition` holds for `item` (none: no item, where only `NotExists` holds).
pub fn holds(condition: &Cond, item: Option<&Item>) -> bool {
    let get = |name: &str| item.and_then(|i| i.get(name));
    match condition {
        Cond::Exists(name) => get(name).is_some(),
        Cond::NotExists(name) => get(name).is_none(),
        Cond::Compare { attr, op, value } => get(attr).is_some_and(|a| compare(a, *op, value)),
        Cond::CompareAttrs { left, op, right } => match (get(left), get(right)) {
            (Some(l), Some(r)) => compare(l, *op, r),
            _ => false,
        },
        Cond::In { attr, values } => {
            get(attr).is_some_and(|a| values.iter().any(|v| order(a, v).is_some_and(Ordering::is_eq)))
        }
        Cond::And(all) => all.iter().all(|c| holds(c, item)),
        Cond::Or(any) => any.iter().any(|c| holds(c, item)),
    }
}

fn compare(left: &Attr, op: Cmp, right: &Attr) -> bool {
    let Some(ordering) = order(left, right) else { return false };
    match op {
        Cmp::Eq => ordering.is_eq(),
        Cmp::Lt => ordering.is_lt(),
        Cmp::Le => ordering.is_le(),
        Cmp::Gt => ordering.is_gt(),
        Cmp::Ge => ordering.is_ge(),
    }
}

/// Values of one type order as DynamoDB orders them (numbers by value, strings by bytes); values of
/// different types do not compare.
pub fn order(left: &Attr, right: &Attr) -> Option<Ordering> {
    match (left, right) {
        (Attr::S(l), Attr::S(r)) => Some(l.as_bytes().cmp(r.as_bytes())),
        (Attr::N(l), Attr::N(r)) => number_order(l, r),
        (Attr::Ss(l), Attr::Ss(r)) => {
            let (mut l, mut r) = (l.clone(), r.clone());
            l.sort();
            r.sort();
            (l == r).then_some(Ordering::Equal)
        }
        _ => None,
    }
}

fn number_order(l: &str, r: &str) -> Option<Ordering> {
    match (l.parse::<i128>(), r.parse::<i128>()) {
        (Ok(l), Ok(r)) => Some(l.cmp(&r)),
        _ => l.parse::<f64>().ok()?.partial_cmp(&r.parse::<f64>().ok()?),
    }
}

/// `item` (none: a new item with just `key`) after `update`, or why DynamoDB would refuse it.
/// Nothing is applied unless all of it is (the caller keeps the old item on error).
pub fn apply(update: &Update, item: Option<&Item>, key: (&str, &str)) -> Result<Item, Invalid> {
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = update.actions.iter().find(|a| !seen.insert(a.attr())) {
        return Err(Invalid::Overlap(dup.attr().to_owned()));
    }
    let mut next = item.cloned().unwrap_or_else(|| Item::from([(key.0.to_owned(), Attr::s(key.1))]));
    // Every right-hand side reads the item as it was before the update.
    let before = next.clone();
    for action in &update.actions {
        apply_action(action, &before, &mut next)?;
    }
    let size = item_size(&next);
    if size > ITEM_SIZE_MAX {
        return Err(Invalid::TooLarge(size));
    }
    Ok(next)
}

fn apply_action(action: &Action, before: &Item, next: &mut Item) -> Result<(), Invalid> {
    let name = action.attr().to_owned();
    match action {
        Action::Set(_, value) => {
            next.insert(name, value.clone());
        }
        Action::SetIfMissing(_, value) => {
            if !before.contains_key(&name) {
                next.insert(name, value.clone());
            }
        }
        Action::Remove(_) => {
            next.remove(&name);
        }
        Action::Increment(_, by) => {
            let current = before.get(&name).ok_or_else(|| Invalid::Missing(name.clone()))?;
            let current = current.as_i64().ok_or_else(|| Invalid::WrongType(name.clone()))?;
            next.insert(name, Attr::n(current + by));
        }
        Action::AddNumber(_, by) => {
            let current = match before.get(&name) {
                None => 0,
                Some(value) => value.as_i64().ok_or_else(|| Invalid::WrongType(name.clone()))?,
            };
            next.insert(name, Attr::n(current + by));
        }
        Action::AddToSet(_, values) | Action::DeleteFromSet(_, values) => {
            let mut set = match before.get(&name) {
                None => Vec::new(),
                Some(Attr::Ss(set)) => set.clone(),
                Some(_) => return Err(Invalid::WrongType(name)),
            };
            if matches!(action, Action::AddToSet(..)) {
                set.extend(values.iter().filter(|v| !before_contains(before, &name, v)).cloned());
                set.dedup();
            } else {
                set.retain(|v| !values.contains(v));
            }
            match set.is_empty() {
                true => next.remove(&name),
                false => next.insert(name, Attr::Ss(set)),
            };
        }
    }
    Ok(())
}

fn before_contains(before: &Item, name: &str, value: &str) -> bool {
    matches!(before.get(name), Some(Attr::Ss(set)) if set.iter().any(|v| v == value))
}

/// An item's size as DynamoDB bills and limits it: names plus values (a number counts about one
/// byte per two digits, plus one).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    Attr::S(s) => s.len(),
                    Attr::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
                    Attr::Ss(set) => set.iter().map(String::len).sum(),
                }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, Attr)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn comparisons_follow_dynamodb() {
        let it = item(&[("n", Attr::n(10)), ("s", Attr::s("b")), ("m", Attr::n(12))]);
        assert!(holds(&Cond::cmp("n", Cmp::Lt, Attr::n(11)), Some(&it)));
        assert!(!holds(&Cond::cmp("n", Cmp::Lt, Attr::n(9)), Some(&it)), "numbers by value, not text");
        assert!(holds(&Cond::cmp("n", Cmp::Gt, Attr::n(9)), Some(&it)));
        assert!(!holds(&Cond::eq("n", Attr::s("10")), Some(&it)), "types differ");
        assert!(!holds(&Cond::cmp("gone", Cmp::Lt, Attr::n(1)), Some(&it)), "missing is false");
        assert!(holds(&Cond::attrs("n", Cmp::Lt, "m"), Some(&it)));
        assert!(holds(&Cond::is_in("s", [Attr::s("a"), Attr::s("b")]), Some(&it)));
        assert!(holds(&Cond::not_exists("pk"), None));
        assert!(!holds(&Cond::exists("pk"), None));
        let either = Cond::not_exists("w").or(Cond::cmp("w", Cmp::Lt, Attr::n(5)));
        assert!(holds(&either, Some(&it)));
        assert!(!holds(&Cond::eq("s", Attr::s("b")).and(Cond::eq("n", Attr::n(11))), Some(&it)));
    }

    #[test]
    fn updates_apply_whole_or_not_at_all() {
        let it = item(&[("pk", Attr::s("k")), ("a", Attr::n(1))]);
        let update = Update::new(vec![
            Action::Increment("a".into(), 2),
            Action::AddNumber("c".into(), 5),
            Action::AddToSet("tags".into(), vec!["x".into(), "y".into()]),
        ]);
        let next = apply(&update, Some(&it), ("pk", "k")).expect("applies");
        assert_eq!(next.get("a"), Some(&Attr::n(3)));
        assert_eq!(next.get("c"), Some(&Attr::n(5)));
        let removed = Update::new(vec![Action::DeleteFromSet("tags".into(), vec!["x".into(), "y".into()])]);
        assert_eq!(apply(&removed, Some(&next), ("pk", "k")).expect("applies").get("tags"), None);

        let missing = Update::new(vec![Action::Increment("nope".into(), 1)]);
        assert_eq!(apply(&missing, Some(&it), ("pk", "k")), Err(Invalid::Missing("nope".into())));
        let overlap = Update::new(vec![Action::Set("a".into(), Attr::n(1)), Action::Remove("a".into())]);
        assert_eq!(apply(&overlap, Some(&it), ("pk", "k")), Err(Invalid::Overlap("a".into())));
        let huge = Update::new(vec![Action::Set("big".into(), Attr::s("x".repeat(ITEM_SIZE_MAX)))]);
        assert!(matches!(apply(&huge, Some(&it), ("pk", "k")), Err(Invalid::TooLarge(_))));
    }

    #[test]
    fn a_new_item_starts_from_its_key() {
        let update = Update::new(vec![Action::Set("type".into(), Attr::s("ocr"))]);
        let next = apply(&update, None, ("pk", "stats#ocr")).expect("applies");
        assert_eq!(next.get("pk"), Some(&Attr::s("stats#ocr")));
        assert_eq!(next.len(), 2);
    }
}
