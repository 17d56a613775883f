//! Records the build time (or SOURCE_DATE_EPOCH, for reproducible builds)
//! as the earliest sane clock reading: a router that boots with its clock
//! in 1970 must not put traffic into a 1970 day.
fn main() {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    // A day of slack: the build machine's clock may run ahead of the router's.
    println!(
        "cargo:rustc-env=NETMON_BUILD_EPOCH={}",
        secs.saturating_sub(86_400)
    );
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
}
