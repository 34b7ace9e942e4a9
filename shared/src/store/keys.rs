//! Key design of the jobs table.
//!
//! One table, partition key `pk` (string), no sort key; items: `job#<id>` for jobs, `pause` for the
//! pause flags, `count#...` for the counters (see [`super::tally`]), `tally#<shard>` for the counter's checkpoints. Jobs are read and written by id only, so the table itself has no hot key.
//!
//! Listing uses three global secondary indexes, all with the same shape:
//!
//! | index        | partition key                | sort key            | projection          |
//! |--------------|------------------------------|---------------------|---------------------|
//! | `by-created` | `c_pk` = `jobs#<shard>`      | `<created_at>#<id>` | keys + [`LISTED`]   |
//! | `by-status`  | `s_pk` = `<status>#<shard>`  | `<created_at>#<id>` | keys + [`LISTED`] (sparse) |
//! | `by-due`     | `d_pk` = `<watch>#<shard>`   | `<due ms>#<id>`     | keys + `type`, `tier` (sparse) |
//!
//! Write units decide this layout: an item update writes to an index only when one of its keys or
//! projected attributes changes, and a key change is a delete and a put. A job that runs once and
//! completes writes the table three times (create, claim, finish) and one index entry, in
//! `by-created` at its creation, which never changes after. So:
//! - `by-status` holds only the statuses off that path ([`status_indexed`]): `scheduled`,
//!   `retrying`, `partial`, `failed`, `cancelled`. `queued`, `processing` and `completed` are
//!   listed from `by-created`, newest first, filtered on the full items: completed jobs are most of
//!   those kept, and queued and running ones are the newest, so such a listing reads few others.
//! - A job's owner, group and batch are listed from the same entry, not from an index of their
//!   own: they never change, so projecting them costs no write, and a second entry per job would
//!   be a second write unit per job (the `noop` budget is five in all). A listing by owner, group
//!   or batch filters inside the index: it reads index rows of other jobs (about 40 to a read
//!   unit), never their items. A batch is read from when its first job was created on (see
//!   `JobStore::list`), so its listing does not read older rows.
//! - `by-due` holds a run's lease end only from its first heartbeat: a run shorter than a third
//!   of its lease is never in it, and one that dies before is found by its message, which the
//!   worker keeps hidden only that long (see `worker::engine`).
//!
//! `by-due` holds only jobs a sweep must look at when a time comes, one partition set per
//! [`Watch`]: a `processing` job at its lease end (a run that died is found there), a job with no
//! message at its `run_at` (`scheduled`, or a backoff too long for an SQS delay: released then),
//! a job whose message was sent by someone other than its creator (sent again if lost), and a job
//! parked while its type or tier is paused (released on resume). A sweep asks for the rows due before a time,
//! so it reads what is due and nothing else, however many jobs the table keeps. `type` and `tier`
//! are projected so a sweep can leave paused jobs unread.
//!
//! Why sharded: a GSI partition takes about 1,000 writes/s. Unsharded, every job created
//! would write to one `by-created` partition (every failed one to one `by-status` partition), and
//! the whole queue's throughput would be capped there. The shard is a hash of the job id modulo
//! [`INDEX_SHARDS`], fixed for the job's life, so index writes spread over that many partitions per
//! listing value. A listing queries every shard of its key and merges by the sort key;
//! the cursor is the last sort key returned, which is the same position in every shard.
//!
//! Why these projections: progress, lease and result updates touch no index key or projected
//! attribute, so they cost one write. `type` is projected because it never changes and lets type
//! listings filter inside the index. Full jobs are read by BatchGetItem (reads cost a fifth of
//! writes).

use super::attrs;
use crate::domain::status::JobStatus;
use crate::ports::table::IndexDef;

/// Fixed for the life of a table: a job's shard is stored in its index keys.
pub const INDEX_SHARDS: u32 = 8;

pub const PK: &str = "pk";
pub const PAUSE_PK: &str = "pause";
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// What the listing indexes hold besides keys: a job's attributes that never change and that a
/// listing filters on (type, owner, group, batch), so a filter is applied inside the index.
pub const LISTED: &[&str] = &[attrs::TYPE, attrs::OWNER, attrs::GROUP, attrs::BATCH_ID];

pub const BY_STATUS: IndexDef = IndexDef { name: "by-status", pk: "s_pk", sk: "s_sk", projected: LISTED };
pub const BY_CREATED: IndexDef = IndexDef { name: "by-created", pk: "c_pk", sk: "c_sk", projected: LISTED };
pub const BY_DUE: IndexDef =
    IndexDef { name: "by-due", pk: "d_pk", sk: "d_sk", projected: &["type", "tier"] };
pub const INDEXES: [IndexDef; 3] = [BY_CREATED, BY_STATUS, BY_DUE];

pub fn job_pk(id: &str) -> String {
    format!("job#{id}")
}

/// The job id of a `job#<id>` partition key.
pub fn id_from_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix("job#")
}

/// FNV-1a: stable across builds and platforms, unlike std's hasher.
pub fn shard_of(id: &str) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % INDEX_SHARDS
}

pub fn sharded(value: &str, id: &str) -> String {
    format!("{value}#{}", shard_of(id))
}

/// Every partition key of one listing value, one per shard.
pub fn all_shards(value: &str) -> Vec<String> {
    (0..INDEX_SHARDS).map(|s| format!("{value}#{s}")).collect()
}

/// The `by-created` partition value: every job is there, whatever its type or status.
pub const CREATED_VALUE: &str = "jobs";

/// Whether `by-status` holds jobs of `status`: only statuses off the path of a job that runs once
/// and completes, so that path changes no `by-status` key (see the module's notes).
pub fn status_indexed(status: JobStatus) -> bool {
    !matches!(status, JobStatus::Queued | JobStatus::Processing | JobStatus::Completed)
}

/// The `by-status` partition key of a job of `status`; none for a status not indexed there.
pub fn status_pk(status: JobStatus, id: &str) -> Option<String> {
    status_indexed(status).then(|| sharded(status.as_str(), id))
}

/// Sort key shared by all indexes: creation time (fixed width), then id for uniqueness.
pub fn sort_key(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

/// Why a job is in `by-due`, and so what its time means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Watch {
    /// `processing`: the run's lease end.
    Lease,
    /// No message exists (`scheduled`, or `retrying` after a backoff longer than SQS's longest
    /// delay): when it is due; its message is sent up to that delay before.
    Release,
    /// A job whose message is on its way, found unclaimed when it should not be: `retrying`, at
    /// its backoff's end; `queued` by a release, a retry or a re-send (not by its creation: the
    /// lost-message sweep walks `by-created` for those), a period after it was sent. Sent again
    /// if still waiting then.
    Sent,
    /// Parked while its tier or type is paused: since when (its message is sent on resume).
    Paused,
}

impl Watch {
    pub const ALL: [Watch; 4] = [Watch::Lease, Watch::Release, Watch::Sent, Watch::Paused];

    pub fn as_str(self) -> &'static str {
        match self {
            Watch::Lease => "processing",
            Watch::Release => "release",
            Watch::Sent => "sent",
            Watch::Paused => "paused",
        }
    }
}

/// The `by-due` partition key of `id` under `watch`.
pub fn due_pk(watch: Watch, id: &str) -> String {
    sharded(watch.as_str(), id)
}

/// The time a `by-due` sort key holds.
pub fn due_of_sort_key(sk: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let (millis, _) = sk.split_once('#')?;
    chrono::DateTime::from_timestamp_millis(millis.parse().ok()?)
}

/// `by-due` sort key: epoch milliseconds, zero-padded so text order is time order, then the id.
pub fn due_sort_key(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}#{id}", due_prefix(at))
}

/// Every `by-due` sort key of a time before `at` sorts below this.
pub fn due_prefix(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:015}", at.timestamp_millis().max(0))
}

/// A sort key is what a cursor carries; accept only the shape we write.
pub fn is_sort_key(s: &str) -> bool {
    match s.split_once('#') {
        Some((time, id)) => crate::domain::model::parse_time(time).is_ok() && !id.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_are_stable() {
        let mut counts = [0u32; INDEX_SHARDS as usize];
        for i in 0..8000 {
            counts[shard_of(&crate::domain::model::job_id_for_key(&i.to_string())) as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "uneven shards: {counts:?}");
        }
        assert_eq!(shard_of("abc"), shard_of("abc"));
        // Pinned: a change of hash would strand existing index entries.
        assert_eq!(shard_of("job-1"), 0x2fc2_6916_u32 % INDEX_SHARDS);
    }

    #[test]
    fn keys_have_the_documented_shape() {
        assert_eq!(job_pk("x1"), "job#x1");
        assert_eq!(id_from_pk("job#x1"), Some("x1"));
        assert_eq!(id_from_pk("pause"), None);
        let pk = status_pk(JobStatus::Failed, "x1").expect("failed jobs are indexed");
        assert!(all_shards("failed").contains(&pk));
        assert_eq!(all_shards("failed").len(), INDEX_SHARDS as usize);
        for status in [JobStatus::Queued, JobStatus::Processing, JobStatus::Completed] {
            assert_eq!(status_pk(status, "x1"), None, "{status} is listed from by-created");
        }
        assert!(is_sort_key(&sort_key("2026-01-01T00:00:00.000Z", "x1")));
        assert!(!is_sort_key("2026-01-01#x"));
        assert!(!is_sort_key("nonsense"));
    }

    #[test]
    fn due_keys_sort_by_time_whatever_the_number_of_digits() {
        let at = |ms| chrono::DateTime::from_timestamp_millis(ms).expect("time");
        let (early, late) = (due_sort_key(at(999), "z"), due_sort_key(at(1_000), "a"));
        assert!(early < late, "{early} < {late}");
        assert!(due_sort_key(at(1_799_999_999_999), "x") < due_prefix(at(1_800_000_000_000)));
        assert!(due_sort_key(at(1_800_000_000_000), "x") > due_prefix(at(1_800_000_000_000)));
    }
}
