//! The table port: the job store's view of DynamoDB, one call to one request.
//!
//! Conditions and updates are typed values ([`Cond`], [`Update`]) built once by the job store.
//! The DynamoDB adapter renders them to expressions; the in-memory table evaluates them against its
//! items with [`eval`](super::eval). So a test in memory exercises exactly the rule DynamoDB
//! receives, not a copy of it.

use std::collections::HashMap;

/// One listing index: its name and the attribute names of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    /// Non-key attributes projected into the index (empty: keys only).
    pub projected: &'static [&'static str],
}

/// An attribute value, as DynamoDB types the ones this table uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    /// A number, kept in DynamoDB's decimal text form.
    N(String),
    /// A string set (never empty: DynamoDB removes a set when its last element goes).
    Ss(Vec<String>),
}

impl Attr {
    pub fn s(value: impl Into<String>) -> Attr {
        Attr::S(value.into())
    }

    pub fn n(value: impl ToString) -> Attr {
        Attr::N(value.to_string())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Attr::N(n) => n.parse().ok(),
            _ => None,
        }
    }
}

/// One item: attribute name to value.
pub type Item = HashMap<String, Attr>;

/// A comparison operator of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on an item's current attributes. A comparison with a missing attribute is false.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Exists(String),
    NotExists(String),
    /// `attribute <op> value`.
    Compare {
        attr: String,
        op: Cmp,
        value: Attr,
    },
    /// `left <op> right`, two attributes of the same item.
    CompareAttrs {
        left: String,
        op: Cmp,
        right: String,
    },
    /// `attribute IN (values)`.
    In {
        attr: String,
        values: Vec<Attr>,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eq(attr: &str, value: Attr) -> Cond {
        Cond::Compare { attr: attr.to_owned(), op: Cmp::Eq, value }
    }

    pub fn cmp(attr: &str, op: Cmp, value: Attr) -> Cond {
        Cond::Compare { attr: attr.to_owned(), op, value }
    }

    pub fn attrs(left: &str, op: Cmp, right: &str) -> Cond {
        Cond::CompareAttrs { left: left.to_owned(), op, right: right.to_owned() }
    }

    pub fn is_in(attr: &str, values: impl IntoIterator<Item = Attr>) -> Cond {
        Cond::In { attr: attr.to_owned(), values: values.into_iter().collect() }
    }

    pub fn exists(attr: &str) -> Cond {
        Cond::Exists(attr.to_owned())
    }

    pub fn not_exists(attr: &str) -> Cond {
        Cond::NotExists(attr.to_owned())
    }

    /// Both; `And`s are flattened so rendered expressions stay short.
    pub fn and(self, other: Cond) -> Cond {
        match (self, other) {
            (Cond::And(mut a), Cond::And(b)) => {
                a.extend(b);
                Cond::And(a)
            }
            (Cond::And(mut a), b) => {
                a.push(b);
                Cond::And(a)
            }
            (a, b) => Cond::And(vec![a, b]),
        }
    }

    pub fn or(self, other: Cond) -> Cond {
        Cond::Or(vec![self, other])
    }
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Set(String, Attr),
    /// `SET a = a + by`: the attribute must exist (DynamoDB refuses the request otherwise).
    Increment(String, i64),
    Remove(String),
    /// `ADD a by` on a number: a missing attribute counts as 0.
    AddNumber(String, i64),
    /// `ADD a {values}` on a string set.
    AddToSet(String, Vec<String>),
    /// `DELETE a {values}` from a string set.
    DeleteFromSet(String, Vec<String>),
    /// `SET a = if_not_exists(a, value)`: the first value written stays.
    SetIfMissing(String, Attr),
}

impl Action {
    pub fn attr(&self) -> &str {
        match self {
            Action::Set(a, _)
            | Action::Increment(a, _)
            | Action::Remove(a)
            | Action::AddNumber(a, _)
            | Action::AddToSet(a, _)
            | Action::DeleteFromSet(a, _)
            | Action::SetIfMissing(a, _) => a,
        }
    }
}

/// The actions of one UpdateItem (each attribute may appear once, as in DynamoDB), and what a
/// successful one returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub actions: Vec<Action>,
    pub returns: Returns,
}

impl Update {
    /// These actions, returning the item as they leave it.
    pub fn new(actions: Vec<Action>) -> Update {
        Update { actions, returns: Returns::AllNew }
    }

    pub fn returning(mut self, returns: Returns) -> Update {
        self.returns = returns;
        self
    }
}

/// What a successful update returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Returns {
    Nothing,
    #[default]
    AllNew,
}

/// One page of a query on a listing index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexQuery {
    pub index: IndexDef,
    pub partition: String,
    /// Only sort keys below this one.
    pub sort_below: Option<String>,
    /// Only sort keys at or above this one.
    pub sort_from: Option<String>,
    pub ascending: bool,
    /// Items evaluated (before the filter), as DynamoDB's `Limit`.
    pub limit: Option<usize>,
    /// Applied after the limit, as DynamoDB's filter expression.
    pub filter: Option<Cond>,
    /// Count only (`Select=COUNT`): no items returned.
    pub count_only: bool,
    /// Continue after this key (a page's `last_key`).
    pub start_after: Option<Item>,
}

impl IndexQuery {
    pub fn new(index: IndexDef, partition: impl Into<String>) -> IndexQuery {
        IndexQuery {
            index,
            partition: partition.into(),
            sort_below: None,
            sort_from: None,
            ascending: true,
            limit: None,
            filter: None,
            count_only: false,
            start_after: None,
        }
    }
}

/// A query's answer: the items (projected as the index says), how many matched, and where a
/// next page starts when this one stopped early.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPage {
    pub items: Vec<Item>,
    pub count: usize,
    pub last_key: Option<Item>,
}

/// What BatchGetItem found, and the keys it left for a later request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchGot {
    pub items: Vec<Item>,
    pub unprocessed: Vec<String>,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The write's condition was false; `current` is the item as it is (none: no item).
    #[error("{operation}: the condition was not met")]
    ConditionFailed { operation: &'static str, current: Option<Box<Item>> },
    /// Throttled, a server error, or no answer (the write may or may not have taken effect): the
    /// same request may succeed later.
    #[error("{operation} failed and may succeed later: {source}")]
    Transient {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The request itself is wrong (an item over 400 KB, an invalid expression): sending it again
    /// fails again.
    #[error("{operation} was refused: {source}")]
    Rejected {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl TableError {
    pub fn is_transient(&self) -> bool {
        matches!(self, TableError::Transient { .. })
    }
}

/// The jobs table. Keys are the values of its partition key attribute ([`crate::store::keys::PK`]).
#[async_trait::async_trait]
pub trait Table: Send + Sync + std::fmt::Debug {
    /// PutItem; with a condition, refused (with the current item) when it is false.
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError>;
    async fn get(&self, key: &str, consistent: bool) -> Result<Option<Item>, TableError>;
    /// UpdateItem: creates the item when there is none and the condition allows it.
    async fn update(
        &self,
        key: &str,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError>;
    async fn delete(&self, key: &str, condition: Option<&Cond>) -> Result<(), TableError>;
    /// BatchGetItem of at most 100 keys.
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError>;
    /// BatchWriteItem puts of at most 25 items; returns the ones left unprocessed.
    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError>;
    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError>;
    /// TransactWriteItems of updates only (at most [`TRANSACT_MAX`], distinct keys): all take
    /// effect or none. A false condition refuses the whole transaction as
    /// [`TableError::ConditionFailed`] (with no current item); a conflict with another
    /// transaction is transient.
    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError>;
}

/// DynamoDB's limit of actions in one transaction.
pub const TRANSACT_MAX: usize = 100;

/// One update of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactUpdate {
    pub key: String,
    pub update: Update,
    pub condition: Option<Cond>,
}

/// One item's change, as a table's change stream (DynamoDB Streams, new and old images) tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The stream shard it came from: one item's changes all come from one shard, in order.
    pub shard: String,
    /// Its place in the shard: decimal digits, growing.
    pub seq: String,
    pub key: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// The order of two stream sequence numbers (decimal strings of any length).
pub fn seq_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A sequence number padded so that text order is number order (DynamoDB's are at most 40 digits).
pub fn seq_key(seq: &str) -> String {
    format!("{seq:0>40}")
}

/// A table's change stream, read in order from where the last read stopped: what the event
/// source mapping does for the counter function in AWS, and the local host does by polling.
#[async_trait::async_trait]
pub trait ChangeFeed: Send + Sync + std::fmt::Debug {
    /// Up to `limit` changes after `after` (from the oldest kept when `None`), oldest first.
    async fn read(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>, TableError>;
}
