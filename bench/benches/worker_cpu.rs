//! Per-job CPU of the worker path with AWS answered from memory: a Lambda invocation's event
//! (10 `noop` envelopes) decoded from JSON, `Worker::handle` (pause flags, claim, run, finish,
//! through the real SDK clients: request building, signing, response parsing), and
//! the response encoded. A second benchmark times the in-memory answers alone, the part of the
//! first that would be the network and DynamoDB in AWS.
//!
//! `make bench` runs it (`cargo bench -p jobq-bench --bench worker_cpu`) and `jobq-bench`
//! reports it from criterion's estimates; `cargo test` runs each benchmark once, checked.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jobq_bench::memory_aws::NoopBatch;

/// Records per invocation: the event source mapping's batch.
const RECORDS: usize = 10;

fn worker_cpu(c: &mut Criterion) {
    // One thread, as the measurement is CPU per job rather than latency.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let batch = runtime.block_on(NoopBatch::new(RECORDS)).expect("in-memory worker");
    // Before measuring: the path is the real one (every record acknowledged, each job claimed
    // and finished once), and its requests are kept for the second benchmark.
    batch.aws.record(true);
    runtime.block_on(batch.invoke_checked()).expect("a checked batch");
    batch.aws.record(false);
    // The steady state: the pause flags read is cached across batches.
    let requests: Vec<(String, Vec<u8>)> =
        batch.aws.recorded().into_iter().filter(|(target, _)| target.ends_with("UpdateItem")).collect();
    assert_eq!(requests.len(), 2 * RECORDS, "a claim and a finish per job, no statistics write");

    let mut group = c.benchmark_group("worker_cpu");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    group.bench_function("noop_batch_of_10", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iterations {
                    std::hint::black_box(batch.invoke().await.expect("invocation"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("in_memory_answers_of_a_batch", |b| {
        b.iter(|| {
            for (target, body) in &requests {
                std::hint::black_box(batch.aws.respond(target, body));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, worker_cpu);
criterion_main!(benches);
