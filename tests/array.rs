//! Arrays on the local threaded scheduler, against plain ndarray: property tests over small
//! random shapes and chunkings, and the errors of invalid operations.

use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;
use taskforce::collections::array::{concatenate, stack, where_, ArrayError, Reduction};
use taskforce::collections::Array;
use taskforce::threaded::Threaded;

fn runner() -> Threaded {
    Threaded::new(2)
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

fn all_close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| close(*x, *y))
}

/// A shape of 1 to 3 axes and a chunk size per axis (often not dividing it).
fn shape_and_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec((1_usize..9, 1_usize..5), 1..4).prop_map(|axes| axes.into_iter().unzip())
}

fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut state = seed | 1;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1000) as f64 / 10.0 - 50.0
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trip_and_reductions_match_ndarray((shape, chunks) in shape_and_chunks(), seed in any::<u64>()) {
        let plain = data(&shape, seed);
        let x = Array::from_ndarray(&plain, &chunks);
        let r = runner();
        prop_assert_eq!(x.compute(&r).unwrap(), plain.clone());
        prop_assert!(close(x.sum().compute(&r).unwrap(), plain.sum()));
        prop_assert!(close(x.mean().compute(&r).unwrap(), plain.mean().unwrap()));
        prop_assert!(close(x.var().compute(&r).unwrap(), plain.var(0.0)));
        prop_assert!(close(x.std().compute(&r).unwrap(), plain.std(0.0)));
        let min = plain.iter().copied().fold(f64::INFINITY, f64::min);
        let max = plain.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(x.min().compute(&r).unwrap(), min);
        prop_assert_eq!(x.max().compute(&r).unwrap(), max);
        let argmin = plain.iter().position(|&v| v == min).unwrap() as i64;
        prop_assert_eq!(x.argmin().compute(&r).unwrap(), argmin);
        for axis in 0..shape.len() {
            let sum = x.sum_axis(axis).compute(&r).unwrap();
            prop_assert!(all_close(&sum, &plain.sum_axis(Axis(axis))));
            let mean = x.mean_axis(axis).compute(&r).unwrap();
            prop_assert!(all_close(&mean, &plain.mean_axis(Axis(axis)).unwrap()));
            let var = x.var_axis(axis).compute(&r).unwrap();
            prop_assert!(all_close(&var, &plain.var_axis(Axis(axis), 0.0)));
            let max = x.max_axis(axis).compute(&r).unwrap();
            prop_assert_eq!(max, plain.map_axis(Axis(axis), |l| l.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
            let argmax = x.argmax_axis(axis).compute(&r).unwrap();
            let expected = plain.map_axis(Axis(axis), |l| {
                let best = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                l.iter().position(|&v| v == best).unwrap() as i64
            });
            prop_assert_eq!(argmax, expected);
            let small = x.reduction::<f64>(Reduction::Sum, &[axis], 2).compute(&r).unwrap();
            prop_assert!(all_close(&small, &plain.sum_axis(Axis(axis))));
        }
    }

    #[test]
    fn elementwise_chains_and_broadcasting_match_ndarray((shape, chunks) in shape_and_chunks(), seed in any::<u64>()) {
        let plain = data(&shape, seed);
        let x = Array::from_ndarray(&plain, &chunks);
        let r = runner();
        let chain = ((&x - 1.5) * 2.0).abs().sqrt() + &x;
        let expected = ((&plain - 1.5) * 2.0).mapv(f64::abs).mapv(f64::sqrt) + &plain;
        prop_assert!(all_close(&chain.compute(&r).unwrap(), &expected));
        let centered = &x - &x.mean_axis(0);
        let plain_centered = &plain - &plain.mean_axis(Axis(0)).unwrap();
        prop_assert!(all_close(&centered.compute(&r).unwrap(), &plain_centered));
        let other_cut: Vec<usize> = chunks.iter().map(|c| c % 3 + 1).collect();
        let y = Array::from_ndarray(&plain, &other_cut);
        prop_assert!(all_close(&(&x + &y).compute(&r).unwrap(), &(&plain * 2.0)));
        let row = Array::from_ndarray(&plain.index_axis(Axis(0), 0).to_owned(), &other_cut[1..]);
        let plain_row = plain.index_axis(Axis(0), 0).to_owned();
        prop_assert!(all_close(&(&x * &row).compute(&r).unwrap(), &(&plain * &plain_row)));
        let scaled = 10.0 - &x / 4.0;
        prop_assert!(all_close(&scaled.compute(&r).unwrap(), &plain.mapv(|v| 10.0 - v / 4.0)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn structure_matches_ndarray(
        (shape, chunks) in shape_and_chunks(),
        seed in any::<u64>(),
        starts in prop::collection::vec(0_usize..4, 3),
        steps in prop::collection::vec(1_usize..4, 3),
    ) {
        let plain = data(&shape, seed);
        let x = Array::from_ndarray(&plain, &chunks);
        let r = runner();
        prop_assert_eq!(x.transpose().compute(&r).unwrap(), plain.t().to_owned());
        let ranges: Vec<(usize, usize, usize)> = shape
            .iter()
            .enumerate()
            .map(|(a, &n)| (starts[a].min(n - 1), n, steps[a]))
            .collect();
        let sliced = x.slice(&ranges).compute(&r).unwrap();
        let expected = plain.slice_each_axis(|ax| {
            let (a, b, s) = ranges[ax.axis.index()];
            ndarray::Slice::new(a as isize, Some(b as isize), s as isize)
        });
        prop_assert_eq!(sliced, expected.to_owned());
        let joined = concatenate(&[x.clone(), x.clone()], 0).compute(&r).unwrap();
        prop_assert_eq!(joined, ndarray::concatenate(Axis(0), &[plain.view(), plain.view()]).unwrap());
        let stacked = stack(&[x.clone(), (&x * 2.0)], 1).compute(&r).unwrap();
        let doubled = &plain * 2.0;
        prop_assert_eq!(stacked, ndarray::stack(Axis(1), &[plain.view(), doubled.view()]).unwrap());
        let new_chunks: Vec<usize> = chunks.iter().map(|c| c % 3 + 1).collect();
        let rechunked = x.rechunk(&new_chunks);
        prop_assert_eq!(rechunked.compute(&r).unwrap(), plain.clone());
        prop_assert!(close(rechunked.sum().compute(&r).unwrap(), plain.sum()));
        let mask = x.gt(0.0);
        prop_assert_eq!(mask.compute(&r).unwrap(), plain.mapv(|v| v > 0.0));
        let zero = Array::full(&[], &[], 0.0);
        let relu = where_(&mask, &x, &zero).compute(&r).unwrap();
        prop_assert_eq!(relu, plain.mapv(|v| v.max(0.0)));
    }

    #[test]
    fn blocked_matmul_matches_ndarray(n in 1_usize..9, k in 1_usize..9, m in 1_usize..9, cn in 1_usize..4, ck in 1_usize..4, cm in 1_usize..4, seed in any::<u64>()) {
        let a = data(&[n, k], seed).into_dimensionality::<ndarray::Ix2>().unwrap();
        let b = data(&[k, m], seed ^ 1).into_dimensionality::<ndarray::Ix2>().unwrap();
        let x = Array::from_ndarray(&a.clone().into_dyn(), &[cn, ck]);
        let y = Array::from_ndarray(&b.clone().into_dyn(), &[ck, cm]);
        let got = x.dot(&y).compute(&runner()).unwrap();
        prop_assert!(all_close(&got, &a.dot(&b).into_dyn()));
        let y_other_cut = Array::from_ndarray(&b.clone().into_dyn(), &[ck % 3 + 1, cm]);
        let got = x.dot(&y_other_cut).compute(&runner()).unwrap();
        prop_assert!(all_close(&got, &a.dot(&b).into_dyn()));
    }
}

#[test]
fn seeded_random_is_reproducible_and_blocks_differ() {
    let r = runner();
    let a = Array::random_seeded(&[10, 7], &[3, 4], 5)
        .compute(&r)
        .unwrap();
    let b = Array::random_seeded(&[10, 7], &[3, 4], 5)
        .compute(&r)
        .unwrap();
    assert_eq!(a, b);
    assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
    let c = Array::random_seeded(&[10, 7], &[3, 4], 6)
        .compute(&r)
        .unwrap();
    assert_ne!(a, c);
    let one_block = a.slice(ndarray::s![0..3, 0..4]).to_owned();
    let next_block = a.slice(ndarray::s![3..6, 0..4]).to_owned();
    assert_ne!(one_block, next_block);
    let fresh = Array::random(&[4], &[2]);
    assert_eq!(fresh.compute(&r).unwrap(), fresh.compute(&r).unwrap());
    assert_ne!(
        fresh.compute(&r).unwrap(),
        Array::random(&[4], &[2]).compute(&r).unwrap()
    );
}

#[test]
fn streamed_reductions_of_created_arrays_match_the_materialized_array() {
    let r = runner();
    let x = Array::random_seeded(&[50_000, 3], &[20_000, 2], 8);
    let y = (&x * 2.0 - 1.0).abs();
    let plain = y.compute(&r).unwrap();
    assert!(close(y.sum().compute(&r).unwrap(), plain.sum()));
    assert!(close(y.mean().compute(&r).unwrap(), plain.mean().unwrap()));
    assert!(close(y.var().compute(&r).unwrap(), plain.var(0.0)));
    let max = plain.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(y.max().compute(&r).unwrap(), max);
    let argmax = plain.iter().position(|&v| v == max).unwrap() as i64;
    assert_eq!(y.argmax().compute(&r).unwrap(), argmax);
    let ints = Array::<i64>::arange(0.0, 100_000.0, 1.0, 30_000);
    assert_eq!(
        (&ints * 3).sum().compute(&r).unwrap(),
        3 * 99_999 * 100_000 / 2
    );
}

#[test]
fn creation_matches_ndarray() {
    let r = runner();
    let a = Array::<f64>::arange(0.0, 10.0, 1.5, 3).compute(&r).unwrap();
    assert_eq!(
        a.into_raw_vec_and_offset().0,
        vec![0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0]
    );
    let l = Array::linspace(0.0, 1.0, 5, 2).compute(&r).unwrap();
    assert_eq!(
        l.into_raw_vec_and_offset().0,
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
    assert_eq!(
        Array::<i64>::full(&[3, 2], &[2, 2], 7)
            .sum()
            .compute(&r)
            .unwrap(),
        42
    );
    assert_eq!(
        Array::<f32>::ones(&[5], &[2]).sum().compute(&r).unwrap(),
        5.0
    );
    assert_eq!(
        Array::<i64>::zeros(&[5], &[2]).max().compute(&r).unwrap(),
        0
    );
}

#[test]
fn reshape_where_chunks_allow() {
    let r = runner();
    let x = Array::<i64>::arange(0.0, 24.0, 1.0, 8);
    let m = x.reshape(&[6, 4]).compute(&r).unwrap();
    let expected = ndarray::Array::from_iter(0..24_i64)
        .into_shape_with_order(IxDyn(&[6, 4]))
        .unwrap();
    assert_eq!(m, expected);
    let back = x.reshape(&[6, 4]).reshape(&[24]).compute(&r).unwrap();
    assert_eq!(back, ndarray::Array::from_iter(0..24_i64).into_dyn());
    assert!(matches!(
        x.reshape(&[4, 6]).check(),
        Err(ArrayError::Unsupported { .. })
    ));
    assert!(matches!(
        x.reshape(&[5, 5]).check(),
        Err(ArrayError::ShapeMismatch { .. })
    ));
}

#[test]
fn stable_variance_with_a_large_offset_and_nan() {
    let r = runner();
    let plain = data(&[1000], 3).mapv(|v| v + 1e9);
    let x = Array::from_ndarray(&plain, &[7]);
    let expected = plain.var(0.0);
    let got = x.var().compute(&r).unwrap();
    assert!(
        (got - expected).abs() <= 1e-6 * expected,
        "{got} vs {expected}"
    );
    let mut with_nan = plain.clone();
    with_nan[[500]] = f64::NAN;
    let y = Array::from_ndarray(&with_nan, &[7]);
    assert!(y.std().compute(&r).unwrap().is_nan());
    assert!(y.max().compute(&r).unwrap().is_nan());
    assert_eq!(y.argmin().compute(&r).unwrap(), 500);
}

#[test]
fn invalid_operations_name_both_shapes_before_running() {
    let x = Array::<f64>::ones(&[6, 4], &[3, 2]);
    let y = Array::<f64>::ones(&[6], &[3]);
    let err = (&x + &y).check().unwrap_err();
    assert_eq!(
        err,
        ArrayError::ShapeMismatch {
            op: "+",
            left: vec![6, 4],
            right: vec![6]
        }
    );
    assert!(err.to_string().contains("[6, 4]") && err.to_string().contains("[6]"));
    let bad_axis = x.sum_axis(2);
    assert!(matches!(
        bad_axis.check(),
        Err(ArrayError::AxisOutOfRange { axis: 2, .. })
    ));
    let later = (&bad_axis * 2.0).sum();
    let err = later.compute(&runner()).unwrap_err();
    assert!(err.to_string().contains("axis 2"), "{err}");
}
