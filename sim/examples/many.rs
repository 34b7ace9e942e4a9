//! Seeds `FIRST..FIRST+N` on two threads, printing each failing seed and the summary:
//! `cargo run -p jobq-sim --example many -- FIRST N [lean] [pipelines]` (`lean`: as `make test`
//! polls; `pipelines`: the clients enqueue pipelines too).

fn main() {
    let lean = std::env::args().skip(3).any(|a| a == "lean");
    let pipelines = std::env::args().skip(3).any(|a| a == "pipelines");
    let polling = if lean { jobq_sim::Polling::lean() } else { jobq_sim::Polling::default() };
    let options = jobq_sim::Options { polling, pipelines, ..jobq_sim::Options::default() };
    let options = &options;
    let mut args = std::env::args().skip(1).take(2).map(|a| a.parse::<u64>().unwrap_or(0));
    let (first, n) = (args.next().unwrap_or(0), args.next().unwrap_or(10));
    let started = std::time::Instant::now();
    let seeds: Vec<u64> = (first..first + n).collect();
    let halves: Vec<Vec<u64>> = seeds.chunks(seeds.len().div_ceil(2).max(1)).map(<[u64]>::to_vec).collect();
    let reports: Vec<jobq_sim::RunReport> = std::thread::scope(|s| {
        let handles: Vec<_> = halves
            .into_iter()
            .map(|half| {
                s.spawn(move || half.into_iter().map(|seed| jobq_sim::run(seed, options)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    for r in &reports {
        print!("{}", r.failures());
    }
    println!(
        "{n} runs in {:.2?} ({:.2?} a run on 2 threads)",
        started.elapsed(),
        started.elapsed() / n.max(1) as u32
    );
    print!("{}", jobq_sim::summary(&reports));
}
