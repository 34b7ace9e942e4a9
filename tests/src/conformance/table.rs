//! The table port's conformance cases, run against the in-memory table and DynamoDB (the
//! emulator) by `tests/tests/conformance_table.rs`. Each case gets a fresh, empty jobs table.
//!
//! Modelled only in memory (no emulator can show them): throttling on demand (of the whole
//! table, or of one hot partition: an item or an index partition), a write whose
//! response is lost after it took effect, TTL deletion that lags, and default reads and index
//! queries that lag the latest writes (DynamoDB's eventual consistency; moto always answers
//! consistently), a change stream spread over several shards that drops records after 24 hours
//! (moto keeps one shard per table and never trims it), and transactions cancelled with the
//! reason `TransactionConflict` when they meet another on an item (moto, serving requests one at
//! a time, never has two in flight) (see `jobq::adapters::memory::MemoryTable`); those are unit-tested there
//! and used by the store's cases and the simulation.
//!
//! Where moto differs from DynamoDB, the memory side follows DynamoDB and the case runs in memory
//! only: [`an_oversize_update_changes_nothing`] (moto applies the part of an update that fits and
//! answers an error; DynamoDB refuses the whole update).

use std::sync::Arc;

use jobq::ports::table::{
    Action, Attr, ChangeFeed, Cmp, Cond, IndexQuery, Item, Returns, Table, TableError, TransactUpdate, Update,
};
use jobq::store::keys::{BY_STATUS, PK};

fn item(pairs: &[(&str, Attr)]) -> Item {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn update(actions: Vec<Action>) -> Update {
    Update::new(actions)
}

fn set(name: &str, value: Attr) -> Action {
    Action::Set(name.to_owned(), value)
}

pub async fn a_conditional_put_is_refused_with_the_current_item(table: Arc<dyn Table>) {
    let first = item(&[(PK, Attr::s("job#1")), ("a", Attr::n(1))]);
    let not_there = Cond::not_exists(PK);
    table.put(first.clone(), Some(&not_there)).await.expect("first put");
    let second = item(&[(PK, Attr::s("job#1")), ("a", Attr::n(2))]);
    match table.put(second, Some(&not_there)).await {
        Err(TableError::ConditionFailed { current: Some(current), .. }) => assert_eq!(*current, first),
        other => panic!("a second put must be refused with the item: {other:?}"),
    }
    assert_eq!(table.get("job#1", true).await.expect("get"), Some(first));
}

pub async fn updates_apply_every_action_and_return_the_new_item(table: Arc<dyn Table>) {
    let created = table
        .update(
            "stats#x",
            &update(vec![set("type", Attr::s("x")), Action::AddNumber("runs".into(), 2)]),
            None,
        )
        .await
        .expect("an update creates a missing item");
    assert_eq!(
        created,
        Some(item(&[(PK, Attr::s("stats#x")), ("type", Attr::s("x")), ("runs", Attr::n(2))]))
    );
    let actions = vec![
        Action::Increment("runs".into(), 3),
        Action::AddNumber("failed".into(), 1),
        Action::AddToSet("scopes".into(), vec!["all".into(), "queue:low".into()]),
        Action::Remove("type".into()),
    ];
    let next = table.update("stats#x", &update(actions), None).await.expect("update");
    let next = next.expect("all new");
    assert_eq!(next.get("runs"), Some(&Attr::n(5)));
    assert_eq!(next.get("failed"), Some(&Attr::n(1)));
    assert_eq!(next.get("type"), None);
    let Some(Attr::Ss(mut scopes)) = next.get("scopes").cloned() else { panic!("a string set: {next:?}") };
    scopes.sort();
    assert_eq!(scopes, ["all", "queue:low"]);
    let emptied = vec![Action::DeleteFromSet("scopes".into(), vec!["all".into(), "queue:low".into()])];
    let quiet = table.update("stats#x", &update(emptied).returning(Returns::Nothing), None).await;
    let quiet = quiet.expect("delete");
    assert_eq!(quiet, None, "nothing returned when nothing is asked");
    let stored = table.get("stats#x", true).await.expect("get").expect("kept");
    assert_eq!(stored.get("scopes"), None, "a set whose last element goes is removed");
}

pub async fn conditions_compare_as_dynamodb_does(table: Arc<dyn Table>) {
    let start =
        item(&[(PK, Attr::s("job#c")), ("n", Attr::n(9)), ("max", Attr::n(10)), ("s", Attr::s("queued"))]);
    table.put(start.clone(), None).await.expect("put");
    let holds = [
        Cond::cmp("n", Cmp::Lt, Attr::n(10)),
        Cond::attrs("n", Cmp::Lt, "max"),
        Cond::is_in("s", [Attr::s("retrying"), Attr::s("queued")]),
        Cond::not_exists("lease").or(Cond::cmp("lease", Cmp::Lt, Attr::n(1))),
        Cond::exists("n").and(Cond::cmp("n", Cmp::Ge, Attr::n(9))),
    ];
    for (i, condition) in holds.iter().enumerate() {
        let bump = update(vec![set("seen", Attr::n(i))]);
        table
            .update("job#c", &bump.returning(Returns::Nothing), Some(condition))
            .await
            .unwrap_or_else(|e| panic!("{condition:?}: {e}"));
    }
    let fails = [
        Cond::cmp("n", Cmp::Gt, Attr::n(10)),
        Cond::cmp("lease", Cmp::Lt, Attr::n(i64::MAX)),
        Cond::eq("n", Attr::s("9")),
        Cond::is_in("s", [Attr::s("failed")]),
    ];
    for condition in &fails {
        let change = update(vec![set("s", Attr::s("changed"))]);
        match table.update("job#c", &change, Some(condition)).await {
            Err(TableError::ConditionFailed { current: Some(current), .. }) => {
                assert_eq!(current.get("s"), Some(&Attr::s("queued")), "{condition:?}")
            }
            other => panic!("{condition:?} must fail: {other:?}"),
        }
    }
    let (change, exists) = (update(vec![set("a", Attr::n(1))]), Cond::exists(PK));
    let missing = table.update("job#none", &change, Some(&exists)).await;
    assert!(matches!(missing, Err(TableError::ConditionFailed { current: None, .. })), "{missing:?}");
    assert_eq!(table.get("job#none", true).await.expect("get"), None);
}

pub async fn an_invalid_update_is_refused_and_changes_nothing(table: Arc<dyn Table>) {
    let start = item(&[(PK, Attr::s("job#v")), ("a", Attr::n(1))]);
    table.put(start.clone(), None).await.expect("put");
    let missing = update(vec![set("a", Attr::n(2)), Action::Increment("nope".into(), 1)]);
    let err = table.update("job#v", &missing, None).await.expect_err("refused");
    assert!(matches!(err, TableError::Rejected { .. }), "not transient: {err}");
    let overlap = update(vec![set("a", Attr::n(3)), Action::Remove("a".into())]);
    let err = table.update("job#v", &overlap, None).await.expect_err("refused");
    assert!(matches!(err, TableError::Rejected { .. }), "{err}");
    assert_eq!(table.get("job#v", true).await.expect("get"), Some(start));
}

pub async fn an_oversize_item_is_refused_whole(table: Arc<dyn Table>) {
    let big = "x".repeat(410 * 1024);
    let err = table
        .put(item(&[(PK, Attr::s("job#big")), ("p", Attr::s(&big))]), None)
        .await
        .expect_err("too large");
    assert!(matches!(err, TableError::Rejected { .. }), "{err}");
    assert_eq!(table.get("job#big", true).await.expect("get"), None);
}

pub async fn an_oversize_update_changes_nothing(table: Arc<dyn Table>) {
    let start = item(&[(PK, Attr::s("job#grow")), ("status", Attr::s("processing"))]);
    table.put(start.clone(), None).await.expect("put");
    let grow = update(vec![
        set("status", Attr::s("completed")),
        set("result", Attr::s("y".repeat(300 * 1024))),
        set("error", Attr::s("z".repeat(150 * 1024))),
    ]);
    let err = table.update("job#grow", &grow, None).await.expect_err("too large");
    assert!(matches!(err, TableError::Rejected { .. }), "{err}");
    let stored = table.get("job#grow", true).await.expect("get").expect("kept");
    let names = |item: &Item| {
        let mut names: Vec<String> = item.keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(names(&stored), names(&start), "no part of the update applied");
    assert_eq!(stored.get("status"), Some(&Attr::s("processing")));
}

/// A transaction refused by one condition writes none of its items, and its change stream
/// carries none of their changes; an accepted one writes them all. (The emulator's own rollback
/// is replaced by a cheaper one in `scripts/emulator.py`: this holds it to DynamoDB.)
pub async fn a_refused_transaction_changes_nothing(table: Arc<dyn Table>, feed: Arc<dyn ChangeFeed>) {
    let start = item(&[(PK, Attr::s("job#t1")), ("a", Attr::n(1))]);
    table.put(start.clone(), None).await.expect("put");
    let transaction = |expected: i64| {
        vec![
            TransactUpdate {
                key: "job#t1".into(),
                update: update(vec![set("a", Attr::n(2))]).returning(Returns::Nothing),
                condition: None,
            },
            TransactUpdate {
                key: "job#t2".into(),
                update: update(vec![set("b", Attr::n(1))]).returning(Returns::Nothing),
                condition: None,
            },
            TransactUpdate {
                key: "tally#t".into(),
                update: update(vec![Action::AddNumber("n".into(), 1)]).returning(Returns::Nothing),
                condition: Some(Cond::not_exists("n").or(Cond::eq("n", Attr::n(expected)))),
            },
        ]
    };
    table.put(item(&[(PK, Attr::s("tally#t")), ("n", Attr::n(5))]), None).await.expect("put");
    let refused = table.transact_update(&transaction(4)).await;
    assert!(matches!(refused, Err(TableError::ConditionFailed { .. })), "{refused:?}");
    assert_eq!(table.get("job#t1", true).await.expect("get"), Some(start));
    assert_eq!(table.get("job#t2", true).await.expect("get"), None);
    let keys =
        |changes: Vec<jobq::ports::table::Change>| changes.into_iter().map(|c| c.key).collect::<Vec<_>>();
    assert_eq!(keys(feed.read(None, 100).await.expect("read")), ["job#t1", "tally#t"], "nothing streamed");
    table.transact_update(&transaction(5)).await.expect("accepted");
    assert_eq!(
        table.get("job#t2", true).await.expect("get").and_then(|i| i.get("b").cloned()),
        Some(Attr::n(1))
    );
    assert_eq!(
        table.get("tally#t", true).await.expect("get").and_then(|i| i.get("n").cloned()),
        Some(Attr::n(6))
    );
    let mut streamed = keys(feed.read(None, 100).await.expect("read"));
    // moto streams an update that creates an item as two changes (its key, then the update).
    streamed.dedup();
    assert_eq!(
        streamed,
        ["job#t1", "tally#t", "job#t1", "job#t2", "tally#t"],
        "each accepted write streamed, in order"
    );
}

pub async fn conditional_deletes_and_batches(table: Arc<dyn Table>) {
    let items: Vec<Item> =
        (0..25).map(|i| item(&[(PK, Attr::s(format!("job#{i}"))), ("i", Attr::n(i))])).collect();
    let left = table.batch_put(items).await.expect("batch put");
    assert!(left.is_empty(), "{left:?}");
    let keys: Vec<String> = (0..30).map(|i| format!("job#{i}")).collect();
    let got = table.batch_get(&keys).await.expect("batch get");
    assert_eq!(got.items.len() + got.unprocessed.len(), 25, "the five missing keys are left out");
    let refused = table.delete("job#3", Some(&Cond::eq("i", Attr::n(4)))).await;
    assert!(matches!(refused, Err(TableError::ConditionFailed { current: Some(_), .. })), "{refused:?}");
    table.delete("job#3", Some(&Cond::eq("i", Attr::n(3)))).await.expect("delete");
    assert_eq!(table.get("job#3", true).await.expect("get"), None);
}

/// Ten jobs in one status partition (sort keys `t00`..`t09`, even ones of type `a`), and one
/// item without index keys.
async fn fill_index(table: &Arc<dyn Table>) {
    for i in 0..10 {
        let job_type = if i % 2 == 0 { "a" } else { "b" };
        let sk = format!("t{i:02}#{i}");
        let job = item(&[
            (PK, Attr::s(format!("job#{i}"))),
            (BY_STATUS.pk, Attr::s("queued#0")),
            (BY_STATUS.sk, Attr::s(&sk)),
            ("type", Attr::s(job_type)),
            ("payload", Attr::s("{}")),
        ]);
        table.put(job, None).await.expect("put");
    }
    table.put(item(&[(PK, Attr::s("pause")), ("type", Attr::s("a"))]), None).await.expect("put");
}

pub async fn index_queries_order_limit_filter_and_continue(table: Arc<dyn Table>) {
    fill_index(&table).await;
    let sk =
        |item: &Item| item.get(BY_STATUS.sk).and_then(Attr::as_str).map(str::to_owned).unwrap_or_default();
    let mut q = IndexQuery::new(BY_STATUS, "queued#0");
    q.ascending = false;
    q.sort_below = Some("t08".into());
    q.limit = Some(3);
    let page = table.query(&q).await.expect("query");
    assert_eq!(page.items.iter().map(sk).collect::<Vec<_>>(), ["t07#7", "t06#6", "t05#5"]);
    assert!(page.items.iter().all(|i| i.get("payload").is_none() && i.get("type").is_some()), "projection");
    q.start_after = page.last_key.clone();
    assert!(q.start_after.is_some(), "a page cut by its limit says where to go on");
    let next = table.query(&q).await.expect("next page");
    assert_eq!(next.items.iter().map(sk).collect::<Vec<_>>(), ["t04#4", "t03#3", "t02#2"]);

    let mut filtered = IndexQuery::new(BY_STATUS, "queued#0");
    filtered.limit = Some(4);
    filtered.filter = Some(Cond::eq("type", Attr::s("a")));
    let page = table.query(&filtered).await.expect("filtered");
    assert_eq!(
        page.items.iter().map(sk).collect::<Vec<_>>(),
        ["t00#0", "t02#2"],
        "the limit counts before the filter"
    );

    let mut of_b = IndexQuery::new(BY_STATUS, "queued#0");
    of_b.count_only = true;
    of_b.filter = Some(Cond::eq("type", Attr::s("b")));
    of_b.limit = Some(3);
    let mut total = 0;
    loop {
        let page = table.query(&of_b).await.expect("count");
        assert!(page.items.is_empty(), "a count returns no items");
        total += page.count;
        match page.last_key {
            Some(key) => of_b.start_after = Some(key),
            None => break,
        }
    }
    assert_eq!(total, 5);
}

/// A range with both ends: from `sort_from` (included) to `sort_below` (left out, even when a
/// row has exactly that key: DynamoDB's BETWEEN includes it, and the adapter drops it).
pub async fn index_queries_read_a_range_with_both_ends(table: Arc<dyn Table>) {
    fill_index(&table).await;
    let sk =
        |item: &Item| item.get(BY_STATUS.sk).and_then(Attr::as_str).map(str::to_owned).unwrap_or_default();
    let mut q = IndexQuery::new(BY_STATUS, "queued#0");
    q.ascending = false;
    q.sort_from = Some("t03".into());
    q.sort_below = Some("t07#7".into());
    let page = table.query(&q).await.expect("query");
    assert_eq!(page.items.iter().map(sk).collect::<Vec<_>>(), ["t06#6", "t05#5", "t04#4", "t03#3"]);
    q.limit = Some(2);
    let first = table.query(&q).await.expect("first page");
    assert_eq!(first.items.iter().map(sk).collect::<Vec<_>>(), ["t06#6", "t05#5"]);
    q.start_after = first.last_key;
    let rest = table.query(&q).await.expect("rest");
    assert_eq!(rest.items.iter().map(sk).collect::<Vec<_>>(), ["t04#4", "t03#3"]);
    let mut from_only = IndexQuery::new(BY_STATUS, "queued#0");
    from_only.sort_from = Some("t08".into());
    let page = table.query(&from_only).await.expect("from");
    assert_eq!(page.items.iter().map(sk).collect::<Vec<_>>(), ["t08#8", "t09#9"]);
}
