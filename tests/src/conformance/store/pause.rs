//! The pause flags: set and cleared per scope.

use jobq::PriorityTier;
use jobq::store::PauseScope;

use super::StoreFixture;

pub async fn pause_flags_are_set_and_cleared_per_scope(f: StoreFixture) {
    let store = f.store;
    assert!(store.pause_flags().await.expect("flags").paused.is_empty());
    store
        .set_paused(&PauseScope::Queue(PriorityTier::Low), true, "ops", chrono::Utc::now())
        .await
        .expect("pause low");
    let flags = store
        .set_paused(&PauseScope::Type("resize".into()), true, "ops", chrono::Utc::now())
        .await
        .expect("pause type");
    assert!(flags.is_paused(PriorityTier::Low, "noop"));
    assert!(flags.is_paused(PriorityTier::High, "resize"));
    assert!(!flags.is_paused(PriorityTier::High, "noop"));
    store
        .set_paused(&PauseScope::Queue(PriorityTier::Low), false, "ops", chrono::Utc::now())
        .await
        .expect("resume low");
    let flags = store.pause_flags().await.expect("flags");
    assert!(!flags.is_paused(PriorityTier::Low, "noop"));
    assert!(flags.is_paused(PriorityTier::Low, "resize"));
}
