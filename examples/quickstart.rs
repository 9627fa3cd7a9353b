//! Load a shipped topology, run its protocol on the sharded executor and print the spikes.
//!
//! Run with `cargo run --release --example quickstart`.

use runtime::{ExecutorKind, Model};

fn main() -> Result<(), runtime::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/fig3b.ron");
    let model = Model::load(path)?;
    let mut session = model.session(1, ExecutorKind::Sharded, 2)?;
    let log = session.run_protocol()?;
    for fire in session.fires() {
        println!(
            "{:>9} ns  {}[{}] fires",
            fire.time_ns, fire.layer, fire.neuron
        );
    }
    println!("{} steps, ended at {} ns", log.steps.len(), log.end_ns);
    Ok(())
}
