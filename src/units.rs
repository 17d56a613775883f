//! Human-readable byte counts with exact integer arithmetic (no floats:
//! float formatting would pull `core::fmt`'s float code into the binary).

use ufmt::uWrite;

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// Writes `hundredths / 100` with two decimals.
pub fn write_fixed2<W: uWrite + ?Sized>(w: &mut W, hundredths: u64) -> Result<(), W::Error> {
    let whole = hundredths / 100;
    let frac = (hundredths % 100) as u8;
    ufmt::uwrite!(w, "{}.", whole)?;
    if frac < 10 {
        w.write_str("0")?;
    }
    ufmt::uwrite!(w, "{}", frac)
}

/// `bytes / 2^(10*k)` in hundredths, rounded half up (k <= 4), exact in
/// u64: with bytes = q * 2^s + r, `(bytes*100 + 2^s/2) >> s` is
/// `q*100 + ((r*100 + 2^s/2) >> s)`, and neither part can overflow
/// (q < 2^54, r*100 < 2^47), so no 128-bit division is needed on a
/// 32-bit router.
fn scaled(bytes: u64, k: u32) -> u64 {
    let s = 10 * k;
    let r = bytes & ((1u64 << s) - 1);
    (bytes >> s) * 100 + ((r * 100 + (1u64 << s) / 2) >> s)
}

/// `floor(v * m / d)` exactly (as `u128` arithmetic truncated to u64
/// would give it) without u128: d > 0, m < 256. The remainder of `v / d`
/// is multiplied bit by bit modulo `d`, so nothing overflows.
pub fn mul_div(v: u64, m: u8, d: u64) -> u64 {
    let r = v % d;
    let (mut frac, mut rem) = (0u64, 0u64);
    for i in (0..8).rev() {
        // (frac, rem) = 2 * (frac, rem): rem + rem, carried past d.
        frac = frac.wrapping_mul(2);
        if rem >= d - rem {
            frac += 1;
            rem -= d - rem;
        } else {
            rem += rem;
        }
        if (m >> i) & 1 == 1 {
            if rem >= d - r {
                frac += 1;
                rem -= d - r;
            } else {
                rem += r;
            }
        }
    }
    (v / d).wrapping_mul(u64::from(m)).wrapping_add(frac)
}

/// `512 B`, `1.50 KiB`, `3.21 GiB`, up to TiB.
pub fn write_human<W: uWrite + ?Sized>(w: &mut W, bytes: u64) -> Result<(), W::Error> {
    if bytes < 1024 {
        return ufmt::uwrite!(w, "{} B", bytes);
    }
    let mut k = 1u32;
    while k < 4 && bytes >= 1u64 << (10 * (k + 1)) {
        k += 1;
    }
    let mut v = scaled(bytes, k);
    // 1048575 B is 1023.999 KiB: rounding would print "1024.00 KiB".
    if v >= 102_400 && k < 4 {
        k += 1;
        v = scaled(bytes, k);
    }
    write_fixed2(w, v)?;
    w.write_str(" ")?;
    w.write_str(UNITS[k as usize])
}

/// Mebibytes with two decimals (the blog's daily table unit).
pub fn write_mib<W: uWrite + ?Sized>(w: &mut W, bytes: u64) -> Result<(), W::Error> {
    write_fixed2(w, scaled(bytes, 2))
}

/// A byte count as an admin writes it: `500`, `500B`, `1.5G`, `10GiB`,
/// `10GB`. `K`, `M`, `G`, `T` alone or with `iB` are powers of 1024 (the
/// units netmon shows); with `B` alone (`GB`) powers of 1000, as ISPs
/// state their caps. Up to three decimals; either case. `None` when it is
/// not such a count or does not fit in a u64.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let (base, exp) = unit_of(unit)?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || whole.len() > 20
        || frac.len() > 3
        || (number.contains('.') && frac.is_empty())
    {
        return None;
    }
    let mut scale = 1u64;
    for _ in 0..exp {
        scale = scale.checked_mul(base)?;
    }
    let whole: u64 = crate::text::parse_u64(whole).ok()?;
    let mut frac_v = 0u64;
    let mut frac_div = 1u64;
    for d in frac.bytes() {
        frac_v = frac_v * 10 + u64::from(d - b'0');
        frac_div *= 10;
    }
    // frac_v < 1000 and scale <= 1024^4: the product fits in a u64.
    let frac_bytes = frac_v * scale / frac_div;
    whole.checked_mul(scale)?.checked_add(frac_bytes)
}

/// A unit's base and power: `""`/`B` bytes, `K`/`KiB` 1024, `KB` 1000, ...
fn unit_of(unit: &str) -> Option<(u64, u32)> {
    let u = unit.to_ascii_uppercase();
    let (prefix, rest) = match u.as_bytes().first() {
        None => return Some((1, 0)),
        Some(b'B') if u.len() == 1 => return Some((1, 0)),
        Some(c) => (*c, &u[1..]),
    };
    let exp = b"KMGT".iter().position(|p| *p == prefix)? as u32 + 1;
    match rest {
        "" | "IB" => Some((1024, exp)),
        "B" => Some((1000, exp)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    fn h(n: u64) -> String {
        let mut b = Buf::new();
        write_human(&mut b, n).unwrap();
        b.as_str().to_string()
    }

    #[test]
    fn human_units() {
        assert_eq!(h(0), "0 B");
        assert_eq!(h(1023), "1023 B");
        assert_eq!(h(1024), "1.00 KiB");
        assert_eq!(h(1536), "1.50 KiB");
        assert_eq!(h(1_048_575), "1.00 MiB");
        assert_eq!(h(5 * (1 << 30) + (1 << 29)), "5.50 GiB");
        assert_eq!(h(3 << 40), "3.00 TiB");
        assert_eq!(h(u64::MAX), "16777216.00 TiB");
    }

    #[test]
    fn scaled_matches_u128() {
        for k in 1..=4u32 {
            for b in [
                0,
                1,
                511,
                512,
                1023,
                1024,
                1_048_575,
                1 << 40,
                u64::MAX - 1,
                u64::MAX,
            ] {
                let div = 1u128 << (10 * k);
                let want = (u128::from(b) * 100 + div / 2) / div;
                assert_eq!(u128::from(scaled(b, k)), want, "{b} {k}");
            }
        }
    }

    #[test]
    fn mul_div_matches_u128() {
        let vals = [
            0,
            1,
            2,
            3,
            159,
            160,
            1 << 32,
            (1 << 56) + 7,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
        ];
        for v in vals {
            for d in vals.iter().copied().filter(|&d| d > 0) {
                for m in [0u8, 1, 2, 160, 255] {
                    let want = (u128::from(v) * u128::from(m) / u128::from(d)) as u64;
                    assert_eq!(mul_div(v, m, d), want, "{v} {m} {d}");
                }
            }
        }
    }

    #[test]
    fn mib() {
        let mut b = Buf::new();
        write_mib(&mut b, 1_572_864).unwrap();
        assert_eq!(b.as_str(), "1.50");
        b.clear();
        write_mib(&mut b, 5243).unwrap();
        assert_eq!(b.as_str(), "0.01");
    }

    #[test]
    fn byte_counts_as_admins_write_them() {
        assert_eq!(parse_bytes("500"), Some(500));
        assert_eq!(parse_bytes("500B"), Some(500));
        assert_eq!(parse_bytes("1k"), Some(1024));
        assert_eq!(parse_bytes("1.5G"), Some(3 << 29));
        assert_eq!(parse_bytes("10GiB"), Some(10 << 30));
        assert_eq!(parse_bytes("10GB"), Some(10_000_000_000));
        assert_eq!(parse_bytes("2T"), Some(2 << 40));
        assert_eq!(parse_bytes("0.001K"), Some(1));
        for bad in [
            "",
            "G",
            "1.",
            ".5G",
            "1.2345G",
            "1X",
            "1GiBB",
            "-1",
            "1 G",
            "99999999999T",
        ] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }
}
