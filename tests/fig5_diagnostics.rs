//! Diagnostics of the Fig 5 network, run on demand (they print numbers, they do not gate):
//!
//! `cargo test --release --test fig5_diagnostics -- --ignored --nocapture`

use memsnn::experiments::fig5::{
    accuracy, default_protocol_path, distinct_winners, infer, load_protocol, rates,
    set_ideal_layer1, setup, train_layer2,
};
use memsnn::experiments::RunOptions;

/// Layer 2 and inference on top of an ideal layer 1 (one hidden neuron per digit, 980 µS
/// on its pixels, 40 µS elsewhere): how far the read scheme alone gets.
#[test]
#[ignore]
fn layer2_with_ideal_layer1() {
    for window in [200u64, 1000] {
        for seed in 1..=5u64 {
            let opts = RunOptions {
                seed,
                ..Default::default()
            };
            let path = default_protocol_path();
            let mut proto = load_protocol(&path).unwrap();
            proto.inference.window_cycles = window;
            let mut s = setup(&proto, &path, &opts, None).unwrap();
            set_ideal_layer1(&mut s, 980e-6, 40e-6);
            let l2 = train_layer2(&mut s, &proto.layer2, proto.inference.window_cycles);
            let res = infer(&mut s, &proto.inference, &[0, 2], 10);
            let window_s = window as f64 * s.msnn.sim.net.clock.period_ns as f64 * 1e-9;
            let n = s.patterns.len();
            let hr = rates(&res, 0, n, true, window_s);
            let or = rates(&res, 0, n, false, window_s);
            let own = |m: &[Vec<f64>], sel: &[Option<usize>]| -> Vec<i64> {
                (0..n)
                    .map(|k| sel[k].map_or(-1, |h| m[k][h].round() as i64))
                    .collect()
            };
            let diag: Vec<Option<usize>> = (0..n).map(Some).collect();
            println!(
                "window {window} seed {seed}: clean {:.2}, 2 px {:.2}, hidden winners {}, \
                 selected {:?}\n  hidden winner rate (Hz) per digit {:?}\n  \
                 target output rate (Hz) per digit {:?}",
                accuracy(&res, 0),
                accuracy(&res, 2),
                distinct_winners(&hr),
                l2.selected,
                own(&hr, &l2.selected),
                own(&or, &diag),
            );
        }
    }
}
