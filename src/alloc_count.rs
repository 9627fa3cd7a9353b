//! A global allocator wrapper that counts live heap bytes, so that `memsnn bench` can
//! report what a built network occupies (bytes per synapse, device state included)
//! exactly, rather than through the resident set size, which a process does not give
//! back after freeing. The `memsnn` binary installs it; a library user who wants the
//! numbers installs it the same way:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: memsnn::alloc_count::CountingAlloc = memsnn::alloc_count::CountingAlloc;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes.
pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Relaxed);
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

/// Live heap bytes, if [`CountingAlloc`] is the global allocator (`None` otherwise).
pub fn live_bytes() -> Option<usize> {
    let n = LIVE.load(Relaxed);
    (n > 0).then_some(n)
}
