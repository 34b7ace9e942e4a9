//! Index queries: the rows of one partition in range, Limit before the filter, 1 MB pages, and
//! (when reads lag) the rows as they were when the read looks.

use std::collections::BTreeMap;
use std::ops::Bound;

use chrono::{DateTime, Utc};

use super::{PAGE_BYTES_MAX, State, index_entry, project};
use crate::ports::eval;
use crate::ports::table::IndexDef;
use crate::ports::table::{Attr, IndexQuery, Item, QueryPage};

pub(super) fn run(state: &State, query: &IndexQuery, at: Option<DateTime<Utc>>) -> QueryPage {
    let empty = BTreeMap::new();
    let index = state.indexes.get(query.index.name).unwrap_or(&empty);
    let (lower, upper) = query_bounds(query);
    if let Bound::Excluded(start) = &lower
        && *start >= upper
    {
        return QueryPage::default(); // a cursor at or past the upper bound: nothing left
    }
    let range = (lower, Bound::Excluded(upper));
    // A lagging read: the items written since `at` have their entries as they were then.
    let (changed, past) = match (at, &state.lag) {
        (Some(at), Some(lag)) => {
            let changed = lag.written_after(at);
            let past: BTreeMap<IndexKey, &Item> = changed
                .iter()
                .filter_map(|key| {
                    let item = lag.as_of(key, state.items.get(*key), at)?;
                    Some((index_entry(&query.index, item)?, item))
                })
                .collect();
            (changed, past)
        }
        _ => Default::default(),
    };
    let current = index
        .range(range.clone())
        .filter(|(_, key)| !changed.contains(key.as_str()))
        .filter_map(|(entry, key)| Some((entry, state.items.get(key)?)));
    let past = past.range(range).map(|(entry, item)| (entry, *item));
    match query.ascending {
        true => page_of(query, merged(current, past, true)),
        false => page_of(query, merged(current.rev(), past.rev(), false)),
    }
}

/// Two runs of index rows, each in the query's order, as one.
fn merged<'a>(
    a: impl Iterator<Item = (&'a IndexKey, &'a Item)>,
    b: impl Iterator<Item = (&'a IndexKey, &'a Item)>,
    ascending: bool,
) -> impl Iterator<Item = &'a Item> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || {
        let from_a = match (a.peek(), b.peek()) {
            (Some((x, _)), Some((y, _))) => (x < y) == ascending,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if from_a { a.next() } else { b.next() }.map(|(_, item)| item)
    })
}

/// A page of `rows` (in the query's order): Limit before the filter, 1 MB at most.
fn page_of<'a>(query: &IndexQuery, rows: impl Iterator<Item = &'a Item>) -> QueryPage {
    let mut page = QueryPage::default();
    let (mut evaluated, mut bytes) = (0usize, 0usize);
    for item in rows {
        let projected = project(&query.index, item);
        evaluated += 1;
        bytes += eval::item_size(&projected);
        let last = projected.clone();
        if query.filter.as_ref().is_none_or(|f| eval::holds(f, Some(&projected))) {
            page.count += 1;
            if !query.count_only {
                page.items.push(projected);
            }
        }
        if query.limit.is_some_and(|l| evaluated >= l) || bytes >= PAGE_BYTES_MAX {
            page.last_key = Some(project(&IndexDef { projected: &[], ..query.index }, &last));
            break;
        }
    }
    page
}

type IndexKey = (String, String);

/// The index rows a query may read, so a page costs what it returns however large the
/// partition: the partition, from `sort_from` and below `sort_below`, and past `start_after` in the query's direction.
fn query_bounds(query: &IndexQuery) -> (Bound<IndexKey>, IndexKey) {
    let p = &query.partition;
    let at = |sk: &str| (p.clone(), sk.to_owned());
    // (p + NUL, "") sorts after every (p, _) and before every other partition.
    let mut upper = (format!("{p}\0"), String::new());
    let after = query.start_after.as_ref().and_then(|k| k.get(query.index.sk)).and_then(Attr::as_str);
    for bound in [query.sort_below.as_deref(), after.filter(|_| !query.ascending)].into_iter().flatten() {
        upper = upper.min(at(bound));
    }
    let from = query.sort_from.as_deref().unwrap_or("");
    let lower = match after.filter(|_| query.ascending) {
        Some(after) if after >= from => Bound::Excluded(at(after)),
        _ => Bound::Included(at(from)),
    };
    (lower, upper)
}
