//! The `pooltop` binary's allocator, by role (feature "mimalloc").
//!
//! The manager allocates with mimalloc: its supervisor thread allocates a
//! report per task and the consumer's thread frees it, which glibc's malloc
//! serialises on an arena lock (1.5–1.8× the throughput of tiny tasks). A
//! worker is one thread that starts and stops often: glibc's malloc starts it
//! faster (mimalloc's first allocations cost 0.2–0.3 ms per process, 9 ms
//! over 32 workers) and keeps it smaller. A process is a worker from its
//! first instruction (the manager puts [`crate::worker::ENV_SOCKET`] in its
//! environment), so the choice is made once, at the first allocation, and
//! every block is freed by the allocator that gave it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

/// mimalloc for the manager, the system allocator for workers.
pub struct ByRole;

const UNKNOWN: u8 = 0;
const WORKER: u8 = 1;
const MANAGER: u8 = 2;

static ROLE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// [`crate::worker::ENV_SOCKET`], as the C library looks it up.
const WORKER_VARIABLE: &std::ffi::CStr = c"POOLTOP_WORKER_SOCKET";

fn is_worker() -> bool {
    match ROLE.load(Ordering::Relaxed) {
        WORKER => true,
        MANAGER => false,
        _ => {
            // Before `main`, without allocating: the C library's own lookup.
            // Threads that race here read the same environment, so they agree.
            // SAFETY: the name is a NUL-terminated constant; nothing in this
            // process changes the environment while it starts.
            let worker = unsafe { !libc::getenv(WORKER_VARIABLE.as_ptr()).is_null() };
            ROLE.store(if worker { WORKER } else { MANAGER }, Ordering::Relaxed);
            worker
        }
    }
}

// SAFETY: every call goes to one of two allocators that uphold the
// `GlobalAlloc` contract, and always the same one in a process (the role never
// changes once decided), so each block returns to the allocator that made it.
unsafe impl GlobalAlloc for ByRole {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            if is_worker() {
                System.alloc(layout)
            } else {
                mimalloc::MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            if is_worker() {
                System.alloc_zeroed(layout)
            } else {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on; `ptr` came from this role's allocator.
        unsafe {
            if is_worker() {
                System.dealloc(ptr, layout)
            } else {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on; `ptr` came from this role's allocator.
        unsafe {
            if is_worker() {
                System.realloc(ptr, layout, new_size)
            } else {
                mimalloc::MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_is_the_workers() {
        assert_eq!(WORKER_VARIABLE.to_str().unwrap(), crate::worker::ENV_SOCKET);
    }

    #[test]
    fn a_process_without_the_worker_variable_is_the_manager_and_stays_so() {
        assert!(std::env::var_os(crate::worker::ENV_SOCKET).is_none());
        assert!(!is_worker());
        assert_eq!(ROLE.load(Ordering::Relaxed), MANAGER);
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a valid layout; the block is freed with the same layout.
        unsafe {
            let p = ByRole.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert!(std::slice::from_raw_parts(p, 64).iter().all(|&b| b == 0));
            let p = ByRole.realloc(p, layout, 128);
            assert!(!p.is_null());
            ByRole.dealloc(p, Layout::from_size_align(128, 8).unwrap());
        }
    }
}
