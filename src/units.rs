//! Human-readable byte counts with exact integer arithmetic (no floats:
//! float formatting would pull `core::fmt`'s float code into the binary).

use ufmt::uWrite;

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// Writes `hundredths / 100` with two decimals.
pub fn write_fixed2<W: uWrite + ?Sized>(w: &mut W, hundredths: u128) -> Result<(), W::Error> {
    let whole = (hundredths / 100) as u64;
    let frac = (hundredths % 100) as u8;
    ufmt::uwrite!(w, "{}.", whole)?;
    if frac < 10 {
        w.write_str("0")?;
    }
    ufmt::uwrite!(w, "{}", frac)
}

/// `bytes / 2^(10*k)` in hundredths, rounded half up.
fn scaled(bytes: u64, k: u32) -> u128 {
    let div = 1u128 << (10 * k);
    (u128::from(bytes) * 100 + div / 2) / div
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::Buf;

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
    fn mib() {
        let mut b = Buf::new();
        write_mib(&mut b, 1_572_864).unwrap();
        assert_eq!(b.as_str(), "1.50");
        b.clear();
        write_mib(&mut b, 5243).unwrap();
        assert_eq!(b.as_str(), "0.01");
    }
}
