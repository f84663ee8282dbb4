//! The epoch order: permutations per epoch, determinism, resume from a serialized cursor.
use polopt_envs::data::{DataError, DataOrder, InOrder};
use serde_json::json;

fn order(len: usize, seed: u64) -> DataOrder {
    match DataOrder::new(len, seed) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    }
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

#[test]
fn each_epoch_is_a_permutation_of_all_rows_and_epochs_differ() {
    let mut o = order(50, 7);
    let epochs: Vec<Vec<usize>> = (0..4).map(|_| o.next_batch(50)).collect();
    for e in &epochs {
        assert_eq!(sorted(e.clone()), (0..50).collect::<Vec<_>>());
    }
    for i in 0..epochs.len() {
        for j in i + 1..epochs.len() {
            assert_ne!(epochs[i], epochs[j], "epochs {i} and {j}");
        }
    }
    assert_ne!(
        epochs[0],
        (0..50).collect::<Vec<_>>(),
        "shuffled, not file order"
    );
    assert_eq!((o.epoch(), o.position(), o.rows_served()), (4, 0, 200));
}

#[test]
fn the_order_depends_only_on_seed_and_epoch() {
    let take = |seed: u64| {
        let mut o = order(30, seed);
        (0..7).flat_map(|_| o.next_batch(13)).collect::<Vec<_>>()
    };
    assert_eq!(take(1), take(1));
    assert_ne!(take(1), take(2));
    // Batch sizes do not change the stream of rows.
    let mut o = order(30, 1);
    let ones: Vec<usize> = (0..91).flat_map(|_| o.next_batch(1)).collect();
    assert_eq!(ones, take(1));
    assert_eq!(DataOrder::epoch_order(30, 1, 2), take(1)[60..90].to_vec());
}

#[test]
fn the_epoch_order_is_pinned() {
    // Golden: a change here reorders every dataset run; bump the data-order version knowingly.
    assert_eq!(DataOrder::epoch_order(10, 0, 0), GOLDEN_SEED0_EPOCH0);
    assert_eq!(DataOrder::epoch_order(10, 0, 1), GOLDEN_SEED0_EPOCH1);
}
const GOLDEN_SEED0_EPOCH0: [usize; 10] = [7, 8, 9, 0, 1, 5, 4, 6, 3, 2];
const GOLDEN_SEED0_EPOCH1: [usize; 10] = [2, 3, 0, 9, 4, 8, 5, 7, 6, 1];

#[test]
fn batches_straddle_epochs_and_finish_the_old_one_first() {
    let mut o = order(5, 3);
    let first = o.next_batch(3);
    let second = o.next_batch(3);
    let e0 = DataOrder::epoch_order(5, 3, 0);
    let e1 = DataOrder::epoch_order(5, 3, 1);
    assert_eq!(first, e0[..3]);
    assert_eq!(second[..2], e0[3..]);
    assert_eq!(second[2], e1[0]);
    assert_eq!((o.epoch(), o.position()), (1, 1));
    // A batch longer than the dataset spans several epochs.
    let mut o = order(2, 3);
    let long = o.next_batch(5);
    assert_eq!(long.len(), 5);
    assert_eq!((o.epoch(), o.position()), (2, 1));
    assert!(o.next_batch(0).is_empty());
}

#[test]
fn a_cursor_saved_mid_epoch_resumes_exactly() {
    let mut uninterrupted = order(23, 11);
    let mut resumed = order(23, 11);
    for _ in 0..3 {
        assert_eq!(uninterrupted.next_batch(8), resumed.next_batch(8));
    }
    let saved = match serde_json::to_value(&resumed) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        saved,
        json!({"len": 23, "seed": 11, "epoch": 1, "position": 1})
    );
    let mut resumed: DataOrder = match serde_json::from_value(saved) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(resumed, uninterrupted);
    for _ in 0..10 {
        assert_eq!(uninterrupted.next_batch(8), resumed.next_batch(8));
    }
    assert!(resumed.check_len(23).is_ok());
    let changed = resumed.check_len(22).map_err(|e| e.to_string());
    assert!(
        matches!(&changed, Err(m) if m.contains("for 23 rows but the dataset now has 22")),
        "{changed:?}"
    );
}

#[test]
fn impossible_cursors_are_rejected() {
    let parse = |v| serde_json::from_value::<DataOrder>(v).map_err(|e| e.to_string());
    let past = parse(json!({"len": 4, "seed": 0, "epoch": 0, "position": 4}));
    assert!(
        matches!(&past, Err(m) if m.contains("position 4 is past the end of a 4-row epoch")),
        "{past:?}"
    );
    let empty = parse(json!({"len": 0, "seed": 0, "epoch": 0, "position": 0}));
    assert!(
        matches!(&empty, Err(m) if m.contains("at least one row")),
        "{empty:?}"
    );
    let extra = parse(json!({"len": 4, "seed": 0, "epoch": 0, "position": 0, "shuffle": true}));
    assert!(
        matches!(&extra, Err(m) if m.contains("unknown field `shuffle`")),
        "{extra:?}"
    );
    assert!(matches!(
        DataOrder::new(0, 1),
        Err(DataError::InvalidOrder { .. })
    ));
}

#[test]
fn in_order_covers_the_rows_once_in_file_order() {
    let ranges: Vec<_> = InOrder::new(7, 3).collect();
    assert_eq!(ranges, [0..3, 3..6, 6..7]);
    assert_eq!(InOrder::new(7, 3).len(), 3);
    assert_eq!(InOrder::new(0, 3).count(), 0);
    assert_eq!(InOrder::new(2, 0).collect::<Vec<_>>(), [0..1, 1..2]);
}
