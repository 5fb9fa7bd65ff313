//! Dense symmetric positive-definite solves for the small systems of rating fits (one row per model).
//! A Cholesky factorisation is 40 lines; a linear-algebra crate would add hundreds of kilobytes to the `.wasm` for it.

use ndarray::Array2;

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix, or `None` if it is not positive
/// definite (to working precision).
pub fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        l[[j, j]] = d;
        for i in j + 1..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = s / d;
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` in place.
pub fn cholesky_solve(l: &Array2<f64>, b: &mut [f64]) {
    let n = l.nrows();
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[[i, k]] * b[k];
        }
        b[i] = s / l[[i, i]];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[[k, i]] * b[k];
        }
        b[i] = s / l[[i, i]];
    }
}

/// The inverse of a symmetric positive-definite matrix from its Cholesky factor.
pub fn cholesky_inverse(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut inv = Array2::<f64>::zeros((n, n));
    let mut col = vec![0.0; n];
    for j in 0..n {
        col.iter_mut().for_each(|x| *x = 0.0);
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
