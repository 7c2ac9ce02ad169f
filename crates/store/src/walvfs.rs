//! A thin SQLite VFS over the platform's own that writes each commit's WAL frames together,
//! one system call per 64 KiB instead of two per page. SQLite appends a frame as two writes,
//! its 24-byte header and then the page; a batch of reports dirties ~25 pages, so a commit
//! cost ~50 `pwrite`s, a tenth of a report's CPU (`weige bench intake`, 64 clients: 5.5
//! `pwrite`s a report, 0.7 through this layer). Here the frames of a commit gather in memory
//! and go to the file when the commit frame's page arrives; nothing else changes.
//!
//! Why it is safe: a frame is read by anyone only once the WAL index says the WAL holds it,
//! and SQLite updates the index after the last frame of the commit is written, which here has
//! reached the file by then (the same moment as without this layer: before `write` returns).
//! Frames that are not followed by their commit frame (a transaction spilling pages before it
//! ends) stay in memory until the next call on the file of any kind, each of which first
//! writes what is gathered: SQLite reading its own frames back, syncing, truncating or closing
//! sees the file as it would without this layer. The format relied on is the documented WAL
//! file format (<https://sqlite.org/fileformat2.html#walformat>): a 32-byte file header, then
//! frames of a 24-byte header, whose bytes 4..8 are non-zero only in a commit frame, followed
//! by the page. A write that does not fit that pattern is written through at once, after what
//! is gathered. The main database file and every other file pass straight through.
//!
//! `unsafe` is allowed in this module only: a VFS is a table of C callbacks.
#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;

/// The VFS's name, as connections ask for it.
const NAME: &str = "weige-wal";
const NAME_C: &CStr = c"weige-wal";

/// Gathered frames are written once they reach this size even before their commit frame (a
/// large transaction), so that memory stays bounded.
const FLUSH_AT: usize = 1 << 20;

/// The most one write to the underlying file takes: SQLite's own writes are at most a page of
/// 64 KiB, and the unix VFS cuts anything over 128 KiB short.
const MAX_WRITE: usize = 1 << 16;

/// Bytes of the WAL file's own header, and of each frame's header.
const WAL_HEADER: i64 = 32;
const FRAME_HEADER: usize = 24;

/// Frames gathered for one WAL file.
#[derive(Default)]
struct Gathered {
    bytes: Vec<u8>,
    /// Where `bytes` go in the file.
    at: i64,
    /// A frame header is gathered and its page is the next write.
    page_due: bool,
    /// That frame is the commit frame: its page ends the commit.
    commit: bool,
}

/// The file object SQLite allocates for this VFS (`szOsFile` bytes): this header, then the
/// underlying VFS's own file object.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// `Some` for a WAL file.
    wal: Option<Box<Gathered>>,
}

/// Where the underlying file object starts within ours.
const INNER_AT: usize = std::mem::size_of::<File>().next_multiple_of(16);

struct Registered {
    /// The platform's VFS, which does the work.
    base: *mut ffi::sqlite3_vfs,
}

// The pointers are to VFS objects that live as long as the process and that SQLite lets any
// thread use.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Option<Registered>> = OnceLock::new();

#[cfg(test)]
thread_local! {
    /// Writes to WAL files made by this thread, for the tests.
    static WAL_WRITES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts a write to a WAL file (in tests only).
fn counted() {
    #[cfg(test)]
    WAL_WRITES.with(|n| n.set(n.get() + 1));
}

/// Registers the VFS (once; it is not made the default). `false` when it could not be: the
/// caller then uses the platform's VFS, unchanged.
fn register() -> bool {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find` initialises SQLite and returns the default VFS, which
            // lives for the whole process; ours is leaked so that it does too, as SQLite keeps
            // the pointer.
            unsafe {
                let base = ffi::sqlite3_vfs_find(std::ptr::null());
                if base.is_null() || (*base).xOpen.is_none() {
                    return None;
                }
                let mut vfs: ffi::sqlite3_vfs = std::ptr::read(base);
                vfs.szOsFile = c_int::try_from(INNER_AT)
                    .ok()?
                    .checked_add((*base).szOsFile)?;
                vfs.pNext = std::ptr::null_mut();
                vfs.zName = NAME_C.as_ptr();
                vfs.xOpen = Some(open);
                // Every other entry is the platform's own, which reads nothing of the VFS
                // object but what the copy carries (`pAppData`, `mxPathname`).
                let vfs = Box::into_raw(Box::new(vfs));
                if ffi::sqlite3_vfs_register(vfs, 0) != ffi::SQLITE_OK {
                    drop(Box::from_raw(vfs));
                    return None;
                }
                Some(Registered { base })
            }
        })
        .is_some()
}

fn base_vfs() -> *mut ffi::sqlite3_vfs {
    REGISTERED
        .get()
        .and_then(Option::as_ref)
        .map_or(std::ptr::null_mut(), |r| r.base)
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = base_vfs();
    // SAFETY: SQLite hands over `szOsFile` bytes at `file`, suitably aligned; the underlying
    // file object is placed after our header, inside them.
    unsafe {
        let Some(base_open) = base.as_ref().and_then(|b| b.xOpen) else {
            (*file).pMethods = std::ptr::null();
            return ffi::SQLITE_ERROR;
        };
        let inner = file.cast::<u8>().add(INNER_AT).cast::<ffi::sqlite3_file>();
        (*inner).pMethods = std::ptr::null();
        let rc = base_open(base, name, inner, flags, out_flags);
        if (*inner).pMethods.is_null() {
            // Not opened: SQLite will not call `close`.
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        let wal = (flags & ffi::SQLITE_OPEN_WAL != 0).then(Box::default);
        std::ptr::write(
            file.cast::<File>(),
            File {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                inner,
                wal,
            },
        );
        rc
    }
}

/// Our file object, and the underlying one's methods.
///
/// SAFETY: `file` must be a file this VFS opened and not yet closed.
unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (&'a mut File, &'a ffi::sqlite3_io_methods) {
    // SAFETY: as the caller promises; `open` left a non-null `pMethods` in the inner file.
    unsafe {
        let f = &mut *file.cast::<File>();
        let m = &*(*f.inner).pMethods;
        (f, m)
    }
}

/// Writes what is gathered, if anything.
fn flush(f: &mut File, m: &ffi::sqlite3_io_methods) -> c_int {
    let Some(g) = f.wal.as_deref_mut() else {
        return ffi::SQLITE_OK;
    };
    g.page_due = false;
    g.commit = false;
    if g.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = m.xWrite else {
        g.bytes.clear();
        return ffi::SQLITE_IOERR_WRITE;
    };
    let mut rc = ffi::SQLITE_OK;
    let mut at = g.at;
    for chunk in g.bytes.chunks(MAX_WRITE) {
        // SAFETY: `f.inner` is the open underlying file; the chunk holds its length in bytes,
        // at most `MAX_WRITE`.
        rc = unsafe { write(f.inner, chunk.as_ptr().cast(), chunk.len() as c_int, at) };
        counted();
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += chunk.len() as i64;
    }
    g.bytes.clear();
    rc
}

/// Flushes, then runs `call` on the underlying file; a failed flush is the call's result.
///
/// SAFETY: `file` must be a file this VFS opened and not yet closed.
unsafe fn then<T>(
    file: *mut ffi::sqlite3_file,
    failed: impl FnOnce(c_int) -> T,
    call: impl FnOnce(*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods) -> T,
) -> T {
    // SAFETY: as the caller promises.
    let (f, m) = unsafe { parts(file) };
    let rc = flush(f, m);
    if rc != ffi::SQLITE_OK {
        return failed(rc);
    }
    call(f.inner, m)
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each opened file once; our header is dropped after the file.
    unsafe {
        let (f, m) = parts(file);
        let flushed = flush(f, m);
        let rc = m.xClose.map_or(ffi::SQLITE_OK, |c| c(f.inner));
        std::ptr::drop_in_place(file.cast::<File>());
        (*file).pMethods = std::ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `file` is ours; `data` holds `amount` bytes (SQLite's contract for xWrite).
    unsafe {
        let (f, m) = parts(file);
        if let (Some(g), Ok(len)) = (f.wal.as_deref_mut(), usize::try_from(amount)) {
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
            let follows = !g.bytes.is_empty() && offset == g.at + g.bytes.len() as i64;
            if g.page_due && follows {
                // The page of the gathered frame header.
                g.bytes.extend_from_slice(bytes);
                g.page_due = false;
                if g.commit || g.bytes.len() >= FLUSH_AT {
                    return flush(f, m);
                }
                return ffi::SQLITE_OK;
            }
            if len == FRAME_HEADER && offset >= WAL_HEADER && !g.page_due {
                // A frame's header: its page comes next.
                if !follows {
                    let rc = flush(f, m);
                    if rc != ffi::SQLITE_OK {
                        return rc;
                    }
                    if let Some(g) = f.wal.as_deref_mut() {
                        g.at = offset;
                    }
                }
                if let Some(g) = f.wal.as_deref_mut() {
                    g.bytes.extend_from_slice(bytes);
                    g.page_due = true;
                    g.commit = bytes[4..8] != [0; 4];
                }
                return ffi::SQLITE_OK;
            }
        }
        let rc = flush(f, m);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if f.wal.is_some() {
            counted();
        }
        m.xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |w| {
            w(f.inner, data, amount, offset)
        })
    }
}

/// A method that writes what is gathered, then calls the underlying file's own: the methods'
/// table from `version` on has it; without it, the call answers `missing`.
macro_rules! through {
    ($name:ident, $field:ident, $version:literal, $missing:expr, $($arg:ident: $ty:ty),*) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: SQLite calls this on a file this VFS opened and has not closed; the
            // arguments go on as it gave them.
            unsafe {
                then(file, |rc| rc, |inner, m| match m.$field {
                    Some(f) if m.iVersion >= $version => f(inner, $($arg),*),
                    _ => $missing,
                })
            }
        }
    };
}

through!(read, xRead, 1, ffi::SQLITE_IOERR_READ, data: *mut c_void, amount: c_int, offset: i64);
through!(truncate, xTruncate, 1, ffi::SQLITE_IOERR_TRUNCATE, size: i64);
through!(sync, xSync, 1, ffi::SQLITE_IOERR_FSYNC, flags: c_int);
through!(file_size, xFileSize, 1, ffi::SQLITE_IOERR_FSTAT, size: *mut i64);
through!(lock, xLock, 1, ffi::SQLITE_IOERR_LOCK, level: c_int);
through!(unlock, xUnlock, 1, ffi::SQLITE_IOERR_UNLOCK, level: c_int);
through!(check_reserved_lock, xCheckReservedLock, 1, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
    out: *mut c_int);
through!(file_control, xFileControl, 1, ffi::SQLITE_NOTFOUND, op: c_int, arg: *mut c_void);
through!(shm_map, xShmMap, 2, ffi::SQLITE_IOERR_SHMMAP,
    page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void);
through!(shm_lock, xShmLock, 2, ffi::SQLITE_IOERR_SHMLOCK, offset: c_int, n: c_int, flags: c_int);
through!(shm_unmap, xShmUnmap, 2, ffi::SQLITE_OK, delete: c_int);
through!(unfetch, xUnfetch, 3, ffi::SQLITE_OK, offset: i64, page: *mut c_void);

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `file` is ours; this reads nothing of the file's contents.
    unsafe {
        let (f, m) = parts(file);
        m.xSectorSize.map_or(4096, |s| s(f.inner))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as in `sector_size`.
    unsafe {
        let (f, m) = parts(file);
        m.xDeviceCharacteristics.map_or(0, |d| d(f.inner))
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: as in the methods of `through!`. A failed flush cannot be reported here; the
    // file's next call finds nothing gathered, and the commit that gathered it has failed
    // already.
    unsafe {
        then(
            file,
            |_| (),
            |inner, m| {
                if let Some(s) = m.xShmBarrier.filter(|_| m.iVersion >= 2) {
                    s(inner);
                }
            },
        )
    }
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: as in the methods of `through!`; memory-mapped reads exist from version 3 of
    // the methods. Without them SQLite reads with `read`, as `*out` left null tells it.
    unsafe {
        then(
            file,
            |rc| rc,
            |inner, m| match m.xFetch {
                Some(x) if m.iVersion >= 3 => x(inner, offset, amount, out),
                _ => {
                    *out = std::ptr::null_mut();
                    ffi::SQLITE_OK
                }
            },
        )
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// The name to open connections with: this VFS's, or `None` for the platform's when it could
/// not be registered.
pub(crate) fn name() -> Option<&'static str> {
    register().then_some(NAME)
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    fn open(path: &std::path::Path, vfs: Option<&str>) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = match vfs {
            Some(v) => Connection::open_with_flags_and_vfs(path, flags, v),
            None => Connection::open_with_flags(path, flags),
        }
        .expect("open");
        c.pragma_update(None, "journal_mode", "WAL").expect("wal");
        c.pragma_update(None, "synchronous", "NORMAL")
            .expect("sync");
        c
    }

    /// The WAL's frames, read from the file as the format describes it: (page, commit size).
    fn frames(wal: &[u8], page: usize) -> Vec<(u32, u32)> {
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        wal[32..]
            .chunks_exact(24 + page)
            .map(|f| (be(&f[0..4]), be(&f[4..8])))
            .collect()
    }

    /// 3,000 rows of 200 bytes from id `from` on: 600 kB, more than a small page cache holds.
    fn big(tx: &rusqlite::Transaction<'_>, from: i64, letter: &str) {
        for i in 0..3_000i64 {
            tx.execute(
                "INSERT INTO t (id, v) VALUES (?1, ?2)",
                (from + i, letter.repeat(200)),
            )
            .expect("insert");
        }
    }

    #[test]
    fn what_is_written_through_it_is_what_sqlite_wrote_and_reads_back() {
        let name = super::name().expect("the VFS registers");
        let dir = std::env::temp_dir().join(format!("weige-walvfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.db");
        let mut w = open(&path, Some(name));
        w.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no checkpoints");
        w.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v);",
        )
        .expect("schema");
        // A reader on the platform's VFS, open throughout: it sees each commit whole.
        let r = open(&path, None);
        let wal_size = || std::fs::metadata(dir.join("t.db-wal")).map_or(0, |m| m.len());
        let (size_before, rounds) = (wal_size(), 20);
        super::WAL_WRITES.with(|n| n.set(0));
        for round in 0..rounds {
            let tx = w.transaction().expect("tx");
            for i in 0..50i64 {
                tx.execute(
                    "INSERT INTO t (id, v) VALUES (?1, ?2)",
                    (
                        round * 50 + i,
                        format!("{:x}", (round * 50 + i) * 7919 % 10007),
                    ),
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
            let n: i64 = r
                .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
                .expect("count");
            assert_eq!(n, (round + 1) * 50);
        }
        // One write a commit, where SQLite makes two a frame (header, page).
        let page: i64 = w
            .query_row("PRAGMA page_size", [], |x| x.get(0))
            .expect("page");
        let written = (wal_size() - size_before) / (24 + page as u64);
        assert_eq!(super::WAL_WRITES.with(|n| n.get()), rounds as usize);
        assert!(written >= 2 * rounds as u64, "{written} frames");
        // A transaction too big for SQLite's page cache spills frames before its commit, and
        // reads some of them back; one rolled back leaves nothing behind.
        w.pragma_update(None, "cache_size", 10)
            .expect("small cache");
        let tx = w.transaction().expect("tx");
        big(&tx, 10_000, "x");
        let sum: i64 = tx
            .query_row("SELECT sum(length(v)) FROM t WHERE id >= 10000", [], |x| {
                x.get(0)
            })
            .expect("sum");
        assert_eq!(sum, 600_000);
        tx.rollback().expect("rollback");
        let tx = w.transaction().expect("tx");
        big(&tx, 20_000, "y");
        tx.commit().expect("commit");
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .expect("count");
        assert_eq!(n, 4_000);

        // The file holds whole frames in the documented format, the last one a commit.
        let wal = std::fs::read(dir.join("t.db-wal")).expect("wal");
        let f = frames(&wal, page as usize);
        assert!(f.len() > 100, "{} frames", f.len());
        assert!(f.iter().all(|(p, _)| *p > 0));
        let valid: i64 = w
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |x| x.get(1))
            .expect("checkpoint");
        assert!(valid as usize <= f.len());
        assert_ne!(
            f[valid as usize - 1].1,
            0,
            "the last valid frame is a commit frame"
        );
        // The files as a crash would leave them, the writer still open: SQLite rebuilds the
        // WAL index from the WAL file alone and finds every commit whole.
        let copy = dir.join("copy");
        std::fs::create_dir_all(&copy).expect("dir");
        for f in ["t.db", "t.db-wal"] {
            std::fs::copy(dir.join(f), copy.join(f)).expect("copy");
        }
        let c = open(&copy.join("t.db"), None);
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |x| x.get(0))
            .expect("check");
        assert_eq!(ok, "ok");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .expect("count");
        assert_eq!(n, 4_000);
        drop((c, w, r));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
