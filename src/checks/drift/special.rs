//! Null distributions the drift tests need and `statrs` does not have: the
//! exact and finite-n Kolmogorov–Smirnov distributions, the Cramér–von Mises
//! distributions, and the modified Bessel function K_ν they use.

use std::collections::HashMap;
use std::f64::consts::PI;

use statrs::function::gamma::ln_gamma;

/// Modified Bessel function of the second kind K_ν(z) for real ν and z > 0,
/// from `K_ν(z) = ∫₀^∞ exp(−z cosh t) cosh(νt) dt`. The integrand is smooth
/// and decays double-exponentially, so the trapezoid rule converges
/// geometrically in the step; h = 1/64 is far past 1e-15 relative.
pub(crate) fn bessel_k(nu: f64, z: f64) -> f64 {
    const H: f64 = 1.0 / 64.0;
    let mut sum = 0.5 * (-z).exp();
    let mut t = H;
    loop {
        let term = (-z * t.cosh()).exp() * (nu * t).cosh();
        sum += term;
        if term < sum * 1e-18 {
            break;
        }
        t += H;
    }
    sum * H
}

/// CDF of the limiting (n → ∞) Cramér–von Mises distribution, Csörgő and
/// Faraway (1996) eq. 1.2, summing terms until they drop below 1e-7 as
/// SciPy's `_cdf_cvm_inf` does (its stopping rule decides its last digits).
pub(crate) fn cvm_cdf_inf(x: f64) -> f64 {
    let mut total = 0.0;
    let mut k = 0u32;
    loop {
        let kf = f64::from(k);
        let u = (ln_gamma(kf + 0.5) - ln_gamma(kf + 1.0)).exp() / (PI.powf(1.5) * x.sqrt());
        let y = 4.0 * kf + 1.0;
        let q = y * y / (16.0 * x);
        let z = u * y.sqrt() * (-q).exp() * bessel_k(0.25, q);
        total += z;
        if z.abs() < 1e-7 {
            return total;
        }
        k += 1;
    }
}

/// Floor division of two floats the way Python's `//` rounds (floor of the
/// exact quotient), which the exact Cramér–von Mises threshold depends on.
fn py_floordiv(x: f64, y: f64) -> f64 {
    let rem = x % y;
    let mut div = (x - rem) / y;
    if rem != 0.0 && ((y < 0.0) != (rem < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0_f64.copysign(x / y);
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Exact p-value P(U ≥ u) of the two-sample Cramér–von Mises rank statistic
/// `u` for sample sizes m and n (Xiao, Gordon & Yakovlev 2006): every
/// lattice path from (0, 0) to (n, m) is equally likely under the null; the
/// statistic is a sum of `(a·v − b·u)²` over the path's points, so a table of
/// (sum → number of paths) per point is built row by row.
pub(crate) fn cvm_exact_sf(u_stat: f64, m: usize, n: usize) -> f64 {
    let (mu, nu) = (m as u64, n as u64);
    let lcm = mu / gcd(mu, nu) * nu;
    let (a, b) = (lcm / mu, lcm / nu);
    let mn = (mu * nu) as f64;
    let zeta = py_floordiv(
        ((lcm * lcm * (mu + nu)) as f64) * (6.0 * u_stat - mn * (4.0 * mn - 1.0)),
        6.0 * mn * mn,
    );
    // row[v] = distribution of partial sums at point (u, v).
    let mut row: Vec<HashMap<u64, f64>> = vec![HashMap::new(); m + 1];
    for ui in 0..=nu {
        let mut left: HashMap<u64, f64> = HashMap::new();
        for (v, cell) in row.iter_mut().enumerate() {
            let mut merged = if ui == 0 && v == 0 {
                HashMap::from([(0u64, 1.0)])
            } else {
                let mut merged = std::mem::take(&mut left);
                for (&val, &freq) in cell.iter() {
                    *merged.entry(val).or_insert(0.0) += freq;
                }
                merged
            };
            let diff = (a * v as u64).abs_diff(b * ui);
            let add = diff * diff;
            merged = merged.into_iter().map(|(val, f)| (val + add, f)).collect();
            *cell = merged.clone();
            left = merged;
        }
    }
    let total: f64 = row[m].values().sum();
    let tail: f64 = row[m]
        .iter()
        .filter(|(val, _)| **val as f64 >= zeta)
        .map(|(_, f)| f)
        .sum();
    tail / total
}

/// Exact two-sided P(D ≥ h/lcm) for the two-sample KS statistic with sizes
/// n1, n2, i.e. `h` in units of 1/lcm(n1, n2).
pub(crate) fn ks_exact_sf(n1: usize, n2: usize, h: u64) -> f64 {
    if h == 0 {
        return 1.0;
    }
    if n1 == n2 {
        return ks_equal_sizes_sf(n1 as u64, h);
    }
    1.0 - ks_inside_probability(n1, n2, h)
}

/// Equal sizes n: P(D ≥ h/n) = 2 Σ_{k≥1} (−1)^{k−1} C(2n, n−kh) / C(2n, n)
/// (reflection principle). Each ratio is a product of h simple factors
/// times the previous one, so nothing overflows.
fn ks_equal_sizes_sf(n: u64, h: u64) -> f64 {
    // Nested form P = 2·A1·(1 − A2·(1 − A3·(…))) with Ak the ratio of the
    // k-th binomial to the (k−1)-th, evaluated from the innermost term out
    // to avoid cancellation between alternating terms.
    let kmax = n / h;
    let mut p = 0.0;
    for k in (1..=kmax).rev() {
        let mut ratio = 1.0;
        for j in 0..h {
            let num = (n - (k - 1) * h - j) as f64;
            let den = (n + (k - 1) * h + j + 1) as f64;
            ratio *= num / den;
        }
        p = ratio * (1.0 - p);
    }
    (2.0 * p).clamp(0.0, 1.0)
}

/// Probability that a uniformly random interleaving of n1 and n2 values
/// keeps |i/n1 − j/n2| < h/lcm at every step, i.e. |i·n2 − j·n1| < h·g.
/// Dynamic programme over the lattice with transition probabilities, so the
/// values stay in [0, 1].
fn ks_inside_probability(n1: usize, n2: usize, h: u64) -> f64 {
    let g = gcd(n1 as u64, n2 as u64);
    let bound = (h * g) as i128;
    let inside = |i: usize, j: usize| {
        ((i as i128) * (n2 as i128) - (j as i128) * (n1 as i128)).abs() < bound
    };
    // prob[j] for the current i: probability of reaching (i, j) inside.
    let mut prob = vec![0.0f64; n2 + 1];
    prob[0] = 1.0;
    for j in 1..=n2 {
        let step = (n2 - (j - 1)) as f64 / (n1 + n2 - (j - 1)) as f64;
        prob[j] = if inside(0, j) {
            prob[j - 1] * step
        } else {
            0.0
        };
    }
    for i in 1..=n1 {
        let remaining_x = (n1 - (i - 1)) as f64;
        for j in 0..=n2 {
            // Arrive from (i−1, j) by an x step, or from (i, j−1) by a y step.
            let from_x = prob[j] * remaining_x / (n1 + n2 - (i - 1) - j) as f64;
            let from_y = if j > 0 {
                prob[j - 1] * (n2 - (j - 1)) as f64 / (n1 + n2 - i - (j - 1)) as f64
            } else {
                0.0
            };
            prob[j] = if inside(i, j) { from_x + from_y } else { 0.0 };
        }
    }
    prob[n2]
}

/// Survival function of the one-sample two-sided KS statistic D_n (SciPy's
/// `kstwo.sf(x, n)`), by the region rules of Simard and L'Ecuyer (2011).
pub(crate) fn kstwo_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // Ruben–Gambino: P(D < x) = n!/n^n (2t − 1)^n.
        let log_cdf = ln_gamma(nf + 1.0) - nf * nf.ln() + nf * (2.0 * t - 1.0).ln();
        return (1.0 - log_cdf.exp()).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if nx2 >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// One-sided P(D⁺_n ≥ x) by the Birnbaum–Tingey sum, every term positive,
/// evaluated in logs so large n does not overflow.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let last = (nf * (1.0 - x)).floor() as u64;
    let ln_n_fact = ln_gamma(nf + 1.0);
    let mut sum = 0.0;
    for v in 0..=last {
        let vf = v as f64;
        let e = x + vf / nf;
        let rest = 1.0 - e;
        if rest <= 0.0 {
            continue;
        }
        let log_term = ln_n_fact - ln_gamma(vf + 1.0) - ln_gamma(nf - vf + 1.0)
            + (vf - 1.0) * e.ln()
            + (nf - vf) * rest.ln();
        sum += log_term.exp();
    }
    sum * x
}

/// P(D_n < d) by the Durbin matrix (Marsaglia, Tsang & Wang 2003): the
/// (k, k) entry of Hⁿ times n!/nⁿ, with powers of two split off as the
/// matrix powers grow.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut fact = vec![1.0f64; m + 1]; // 1/i!
    for i in 1..=m {
        fact[i] = fact[i - 1] / i as f64;
    }
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            if i + 1 >= j {
                hm[i * m + j] = fact[i + 1 - j];
            }
        }
    }
    for i in 0..m {
        hm[i * m] -= h.powi(i as i32 + 1) * fact[i + 1];
        hm[(m - 1) * m + i] -= h.powi((m - i) as i32) * fact[m - i];
    }
    let corner = if 2.0 * h - 1.0 > 0.0 {
        (2.0 * h - 1.0).powi(m as i32)
    } else {
        0.0
    };
    hm[(m - 1) * m] += corner * fact[m];

    let mul = |a: &[f64], b: &[f64]| {
        let mut c = vec![0.0f64; m * m];
        for i in 0..m {
            for l in 0..m {
                let ail = a[i * m + l];
                if ail != 0.0 {
                    for j in 0..m {
                        c[i * m + j] += ail * b[l * m + j];
                    }
                }
            }
        }
        c
    };
    let mut result: Vec<f64> = (0..m * m)
        .map(|i| if i % (m + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let (mut result_exp, mut base_exp) = (0i64, 0i64);
    let mut base = hm;
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            result = mul(&result, &base);
            result_exp += base_exp;
            rescale(&mut result, &mut result_exp);
        }
        e >>= 1;
        if e > 0 {
            base = mul(&base, &base);
            base_exp *= 2;
            rescale(&mut base, &mut base_exp);
        }
    }
    let entry = result[(k - 1) * m + (k - 1)];
    if entry <= 0.0 {
        return 0.0;
    }
    let nf = n as f64;
    let log_p =
        entry.ln() + result_exp as f64 * std::f64::consts::LN_2 + ln_gamma(nf + 1.0) - nf * nf.ln();
    log_p.exp().clamp(0.0, 1.0)
}

fn rescale(mat: &mut [f64], exp: &mut i64) {
    let max = mat.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    if max > 2f64.powi(128) {
        let shift = max.log2().floor() as i32;
        let scale = 2f64.powi(-shift);
        mat.iter_mut().for_each(|v| *v *= scale);
        *exp += i64::from(shift);
    }
}

/// Pelz–Good asymptotic series for P(D_n ≤ x), four terms in 1/√n.
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z * z * z, z.powi(4), z.powi(6));
    let pi2 = PI * PI;
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let sqrt2pi = (2.0 * PI).sqrt();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi2 * pi2 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi2 * pi2 * pi2 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi2 * pi2 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    // Sums over odd m = 2k − 1 of c(m) q^(m²), Horner in q^(8k).
    let mut sums = [0.0f64; 4];
    let kmax = (16.0 * z / PI).ceil() as u64;
    for k in (1..=kmax).rev() {
        let mm = (2 * k - 1) as f64;
        let (m2, m4, m6) = (mm * mm, mm.powi(4), mm.powi(6));
        let qp = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (s, c) in sums.iter_mut().zip(coeffs) {
            *s = *s * qp + c;
        }
    }
    let denoms = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (s, d) in sums.iter_mut().zip(denoms) {
        *s *= q * sqrt2pi / d;
    }
    // Terms over all integers k for K2 and K3.
    let q2 = (-pi2 / 2.0 / z2).exp();
    let (mut extra2, mut extra3) = (0.0, 0.0);
    let sqrt3z = 3f64.sqrt() * z;
    for k in (1..=kmax).rev() {
        let kf = k as f64;
        let qk = q2.powf(kf * kf);
        extra2 += kf * kf * qk;
        let kpi = PI * kf;
        extra3 += (sqrt3z + kpi) * (sqrt3z - kpi) * kf * kf * qk;
    }
    sums[2] += extra2 * pi2 * sqrt2pi / (-36.0 * z3);
    sums[3] += extra3 * pi2 * sqrt2pi / (216.0 * z6);
    (0..4).map(|i| sums[i] / n.powf(i as f64 / 2.0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_k_half_has_closed_form() {
        // K_{1/2}(z) = sqrt(pi / (2z)) e^{-z}.
        for z in [0.01, 0.3, 1.0, 7.5, 40.0] {
            let want = (PI / (2.0 * z)).sqrt() * (-z).exp();
            let got = bessel_k(0.5, z);
            assert!((got - want).abs() <= 1e-13 * want, "z={z}: {got} vs {want}");
        }
    }

    #[test]
    fn py_floordiv_matches_python_on_edges() {
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(py_floordiv(6.0, 3.0), 2.0);
        assert_eq!(py_floordiv(-0.5, 3.0), -1.0);
    }

    #[test]
    fn ks_equal_and_unequal_paths_agree_for_equal_sizes() {
        // The band recursion also works for n1 == n2; both must agree.
        for (n, h) in [(5usize, 2u64), (8, 3), (12, 5), (30, 7)] {
            let a = ks_equal_sizes_sf(n as u64, h);
            let b = 1.0 - ks_inside_probability(n, n, h);
            assert!((a - b).abs() < 1e-12, "n={n} h={h}: {a} vs {b}");
        }
    }
}
