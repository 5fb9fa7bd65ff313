//! Dense symmetric positive-definite solves for the small systems of rating fits (one row per model).
//! A Cholesky factorisation is 40 lines; a linear-algebra crate would add hundreds of kilobytes to the `.wasm` for it.

use ndarray::Array2;

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix, or `None` if it is not positive
/// definite (to working precision).
pub fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let mut l = Array2::<f64>::zeros(a.raw_dim());
    cholesky_into(a, &mut l).then_some(l)
}

/// Cholesky into a preallocated `l` (row-major; rows are contiguous so the inner products vectorise).
/// Returns false when `a` is not positive definite.
pub fn cholesky_into(a: &Array2<f64>, l: &mut Array2<f64>) -> bool {
    let n = a.nrows();
    let l = l.as_slice_mut().expect("standard layout");
    l.fill(0.0);
    for j in 0..n {
        let (done, rest) = l.split_at_mut(j * n);
        let row_j = &mut rest[..n];
        let d = a[[j, j]] - dot(&row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let d = d.sqrt();
        row_j[j] = d;
        let _ = done;
        for i in j + 1..n {
            let (upper, lower) = l.split_at_mut(i * n);
            let row_j = &upper[j * n..j * n + j];
            let row_i = &mut lower[..n];
            row_i[j] = (a[[i, j]] - dot(&row_i[..j], row_j)) / d;
        }
    }
    true
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xc.remainder().iter().zip(yc.remainder()).map(|(a, b)| a * b).sum();
    for (a, b) in xc.zip(yc) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

/// Solves `L Lᵀ x = b` in place.
pub fn cholesky_solve(l: &Array2<f64>, b: &mut [f64]) {
    let n = l.nrows();
    let ls = l.as_slice().expect("standard layout");
    for i in 0..n {
        b[i] = (b[i] - dot(&ls[i * n..i * n + i], &b[..i])) / ls[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= ls[k * n + i] * b[k];
        }
        b[i] = s / ls[i * n + i];
    }
}

/// The inverse of a symmetric positive-definite matrix from its Cholesky factor.
pub fn cholesky_inverse(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut inv = Array2::<f64>::zeros((n, n));
    let mut col = vec![0.0; n];
    for j in 0..n {
        col.fill(0.0);
        col[j] = 1.0;
        cholesky_solve(l, &mut col);
        for i in 0..n {
            inv[[i, j]] = col[i];
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = ndarray::arr2(&[[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]]);
        let l = cholesky(&a).unwrap();
        let inv = cholesky_inverse(&l);
        let eye = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                assert!((eye[[i, j]] - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(cholesky(&ndarray::arr2(&[[1.0, 2.0], [2.0, 1.0]])).is_none());
    }
}
