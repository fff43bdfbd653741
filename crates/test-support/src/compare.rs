//! Comparisons of float outputs with their references: a NaN or a length mismatch is always a
//! failure, never a small error.

/// Max over rows of `||got - want|| / ||want||` (rows of `width` values), in f64. Any NaN in
/// either slice gives infinity (never a small error), as does a row whose `want` is zero while
/// `got` is not; a row that is zero in both has error 0. Different lengths, a width of 0 or
/// lengths that are not whole rows panic.
pub fn max_row_rel(got: &[f32], want: &[f32], width: usize) -> f64 {
    assert_eq!(got.len(), want.len(), "row-relative error of different lengths");
    assert!(width > 0, "row-relative error with rows of width 0");
    assert_eq!(got.len() % width, 0, "{} values are not whole rows of {width}", got.len());
    if got.iter().chain(want).any(|v| v.is_nan()) {
        return f64::INFINITY;
    }
    got.chunks(width)
        .zip(want.chunks(width))
        .map(|(g, w)| {
            let num: f64 =
                g.iter().zip(w).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum();
            let den: f64 = w.iter().map(|b| f64::from(*b).powi(2)).sum();
            match (num / den).sqrt() {
                _ if num == 0.0 => 0.0,
                // inf - inf, inf / inf: not a measurable error, so the worst.
                e if e.is_nan() => f64::INFINITY,
                e => e,
            }
        })
        // No row is NaN here; a NaN would still win (f64::max alone would drop it).
        .fold(0.0, |worst, e| if e.is_nan() { f64::INFINITY } else { worst.max(e) })
}

/// Asserts two float slices are equal within `atol + rtol * |want|`, printing the first
/// differing indices and the largest error. A NaN on either side fails (even NaN against NaN),
/// as do different lengths.
pub fn assert_close(name: &str, got: &[f32], want: &[f32], rtol: f32, atol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: lengths differ");
    let mut bad = Vec::new();
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        if err > worst.1 || (err.is_nan() && !worst.1.is_nan()) {
            worst = (i, err);
        }
        if err.is_nan() || err > atol + rtol * w.abs() {
            bad.push(i);
        }
    }
    if !bad.is_empty() {
        let show: Vec<String> =
            bad.iter().take(5).map(|&i| format!("[{i}] got {} want {}", got[i], want[i])).collect();
        panic!(
            "{name}: {} of {} values differ (largest error {} at {}): {}",
            bad.len(),
            got.len(),
            worst.1,
            worst.0,
            show.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: [f32; 6] = [1.0, 2.0, 2.0, 3.0, 0.0, 4.0];

    #[test]
    fn row_error_is_the_worst_rows() {
        assert_eq!(max_row_rel(&ROWS, &ROWS, 3), 0.0);
        let mut got = ROWS;
        got[5] = 4.0 + 5.0; // the second row: ||(0, 0, 5)|| / ||(3, 0, 4)|| = 1
        assert_eq!(max_row_rel(&got, &ROWS, 3), 1.0);
        // Zero rows: equal is error 0, anything else is infinitely wrong.
        assert_eq!(max_row_rel(&[0.0; 4], &[0.0; 4], 2), 0.0);
        assert_eq!(max_row_rel(&[0.0, 1e-30], &[0.0, 0.0], 2), f64::INFINITY);
    }

    #[test]
    fn a_nan_anywhere_is_an_infinite_error() {
        for i in 0..ROWS.len() {
            let mut bad = ROWS;
            bad[i] = f32::NAN;
            assert_eq!(max_row_rel(&bad, &ROWS, 3), f64::INFINITY, "NaN got[{i}]");
            assert_eq!(max_row_rel(&ROWS, &bad, 3), f64::INFINITY, "NaN want[{i}]");
            assert_eq!(max_row_rel(&bad, &bad, 3), f64::INFINITY, "NaN in both at {i}");
        }
        // A whole NaN row after a good one, and a NaN row in a batch of one-value rows.
        let mut got = ROWS;
        got[3..].fill(f32::NAN);
        assert!(max_row_rel(&got, &ROWS, 3) > 1e-5);
        assert_eq!(max_row_rel(&got, &ROWS, 1), f64::INFINITY);
    }

    #[test]
    fn infinities_are_not_small_errors() {
        let inf = [f32::INFINITY, 1.0];
        assert_eq!(max_row_rel(&inf, &[1.0, 1.0], 2), f64::INFINITY);
        assert_eq!(max_row_rel(&[1.0, 1.0], &inf, 2), f64::INFINITY);
        assert_eq!(max_row_rel(&inf, &inf, 2), f64::INFINITY);
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn row_error_of_a_short_output_panics() {
        max_row_rel(&ROWS[..3], &ROWS, 3);
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn row_error_of_an_empty_output_panics() {
        max_row_rel(&[], &ROWS, 3);
    }

    #[test]
    #[should_panic(expected = "not whole rows")]
    fn row_error_of_partial_rows_panics() {
        max_row_rel(&ROWS, &ROWS, 4);
    }

    #[test]
    fn close_values_pass() {
        assert_close("same", &ROWS, &ROWS, 0.0, 0.0);
        assert_close("near", &[1.0 + 1e-6], &[1.0], 1e-5, 0.0);
    }

    #[test]
    #[should_panic(expected = "1 of 6 values differ")]
    fn a_nan_fails_assert_close() {
        let mut bad = ROWS;
        bad[4] = f32::NAN;
        assert_close("nan", &bad, &ROWS, 1.0, 1.0);
    }

    #[test]
    #[should_panic(expected = "6 of 6 values differ")]
    fn nan_against_nan_fails_assert_close() {
        assert_close("nan", &[f32::NAN; 6], &[f32::NAN; 6], 1.0, 1.0);
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn a_short_output_fails_assert_close() {
        assert_close("short", &ROWS[..5], &ROWS, 1.0, 1.0);
    }

    #[test]
    #[should_panic(expected = "values differ")]
    fn a_far_value_fails_assert_close() {
        assert_close("far", &[1.1], &[1.0], 0.01, 0.01);
    }
}
