//! The terminal on stdout: whether there is one, and its size.
#![allow(unsafe_code)]

/// Whether stdout is a terminal (`top` then redraws in place).
pub fn stdout_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(1) == 1 }
}

/// Rows and columns of the terminal on stdout, as the kernel knows them
/// (TIOCGWINSZ); `None` when stdout is no terminal or the size is unset
/// (a serial console often says 0 x 0).
pub fn window_size() -> Option<(u16, u16)> {
    // SAFETY: an all-zero winsize is plain storage for the kernel to fill.
    let mut ws: libc::winsize = unsafe { core::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which is
    // to a local that outlives the call.
    let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}
