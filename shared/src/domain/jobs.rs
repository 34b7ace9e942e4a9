//! The one place to register this deployment's job types: the worker runs them and the API
//! accepts them (an unknown type is refused at enqueue).

use crate::task::Registry;

/// The built-in types plus yours: `registry.register(MyTask);` below.
pub fn registry() -> Registry {
    // Add your job types here, e.g. `registry.register(crate::my_jobs::Thumbnail);`
    Registry::with_builtins()
}
