//! The Pareto-front file the multi-objective runners write, as the report reads it.
use polopt_report::read_front;

#[test]
fn a_front_file_reads_back_and_a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_front(dir.path()).unwrap(), None);
    std::fs::write(
        dir.path().join("pareto_front.csv"),
        "source,objective_1,objective_2,supported\narchive,0.7,-1,\ntrue_front,0.7,-1,true\ntrue_front,8.2,-3,true\n",
    )
    .unwrap();
    let front = read_front(dir.path()).unwrap().unwrap();
    assert_eq!(front.archive, vec![[0.7, -1.0]]);
    assert_eq!(front.truth, vec![[0.7, -1.0], [8.2, -3.0]]);
    std::fs::write(
        dir.path().join("pareto_front.csv"),
        "source,objective_1,objective_2,supported\narchive,0.7,x,\n",
    )
    .unwrap();
    let err = read_front(dir.path()).unwrap_err().to_string();
    assert!(err.contains("pareto_front.csv line 2"), "{err}");
}
