//! An SQLite connection driven directly through the C library, for the bulk paths:
//! long sequential scans of the ledger (`storage::scan`) and the fill of a rebuild's
//! fresh view tables (`read_side::store`).
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands every row
//! (and every statement's arguments) over a channel, boxed, with the values copied into
//! owned buffers: about 3.4 µs of CPU per row read, more than stepping the statement
//! costs. Here the caller's (blocking) thread steps one prepared statement, decodes each
//! row from the column pointers SQLite returns and binds values straight from borrowed
//! data.
//!
//! This is the only module with `unsafe` code for SQLite. Its API is safe: lifetimes tie
//! a [`Statement`] to its [`Connection`] and a [`Row`] to one step of its statement, so
//! no pointer SQLite hands out can be used after the call that invalidates it.

// The workspace denies `unsafe_code`; this module is the one exception (ARCHITECTURE.md).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

/// How long a direct connection waits for a lock: as long as the pool's connections
/// (`SqliteStorage::connect`). A reader waits only while another connection recovers
/// the WAL; a writer also for the write lock.
pub const BUSY_TIMEOUT_MS: i32 = 30_000;

/// An error reported by SQLite, with its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SQLite error {code}: {message}")]
pub struct SqliteError {
    pub code: i32,
    pub message: String,
}

/// Why a column could not be read as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    #[error("column {column} is {found}, not {wanted}")]
    Type {
        column: usize,
        wanted: &'static str,
        found: &'static str,
    },
    #[error("column {column} is not UTF-8")]
    Utf8 { column: usize },
    #[error("column {column} does not exist")]
    Missing { column: usize },
}

/// What a [`Connection`] may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Opened read-write (so that it can take part in WAL mode's shared-memory index
    /// even when it is the first connection to the file) but with `PRAGMA query_only`
    /// set: it cannot change the database.
    Read,
    ReadWrite,
}

/// Whether a pool connection is outside any transaction, as SQLite itself knows it.
pub fn autocommit(handle: &mut sqlx::sqlite::LockedSqliteHandle<'_>) -> bool {
    // SAFETY: a locked handle is a live connection no other thread uses until it is
    // dropped; sqlite3_get_autocommit only reads a flag.
    unsafe { ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) != 0 }
}

/// One connection to an existing database file.
pub struct Connection {
    db: NonNull<ffi::sqlite3>,
}

// SAFETY: the connection is opened with SQLITE_OPEN_NOMUTEX (SQLite's "multi-thread"
// mode): it may move between threads as long as one thread uses it at a time, which
// `&mut`/`&` borrows and the absence of `Sync` guarantee. The bundled library is built
// thread-safe (SQLITE_THREADSAFE=1), so other connections on other threads are fine.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens `path`, which must already exist (nothing is created), and sets a busy
    /// timeout so that it waits for locks as the pool's connections do.
    pub fn open(path: &Path, access: Access, busy_timeout_ms: i32) -> Result<Self, SqliteError> {
        let name = path_to_cstring(path)?;
        let mut db: *mut ffi::sqlite3 = ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; `db` is a
        // valid out-pointer; a null VFS name selects the default VFS.
        let rc = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut db, flags, ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            // Only when SQLite could not even allocate the connection object.
            return Err(SqliteError {
                code: rc,
                message: "out of memory opening the database".into(),
            });
        };
        // From here on `conn`'s Drop closes the handle, also when opening failed (SQLite
        // returns a handle to report the error with, which must still be closed).
        let conn = Connection { db };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error(rc));
        }
        // SAFETY: `db` is an open connection.
        unsafe {
            ffi::sqlite3_extended_result_codes(conn.db.as_ptr(), 1);
            ffi::sqlite3_busy_timeout(conn.db.as_ptr(), busy_timeout_ms);
        }
        if access == Access::Read {
            conn.execute("PRAGMA query_only = ON")?;
        }
        Ok(conn)
    }

    /// Runs SQL that returns no rows (one or more statements).
    pub fn execute(&self, sql: &str) -> Result<(), SqliteError> {
        let sql = CString::new(sql).map_err(|_| SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: "SQL contains a NUL byte".into(),
        })?;
        // SAFETY: open connection; NUL-terminated SQL; no callback, so a null context
        // and a null error out-pointer (the message is read from the connection).
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        Ok(())
    }

    /// Compiles one statement.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>, SqliteError> {
        let len = c_int::try_from(sql.len()).map_err(|_| SqliteError {
            code: ffi::SQLITE_TOOBIG,
            message: "SQL too long".into(),
        })?;
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        // SAFETY: open connection; `sql` is valid for `len` bytes (SQLite does not need
        // a terminator when given the length); `stmt` is a valid out-pointer; the tail
        // pointer is not wanted.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            if let Some(stmt) = NonNull::new(stmt) {
                // SAFETY: a statement SQLite returned, finalized once.
                unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
            }
            return Err(self.error(rc));
        }
        match NonNull::new(stmt) {
            Some(stmt) => Ok(Statement {
                stmt,
                conn: self,
                columns: {
                    // SAFETY: a valid prepared statement.
                    let n = unsafe { ffi::sqlite3_column_count(stmt.as_ptr()) };
                    usize::try_from(n).unwrap_or(0)
                },
            }),
            // Empty SQL (only whitespace or comments) compiles to no statement.
            None => Err(SqliteError {
                code: ffi::SQLITE_MISUSE,
                message: "no SQL statement to prepare".into(),
            }),
        }
    }

    /// The connection's current error, for the result code `rc` just returned.
    fn error(&self, rc: c_int) -> SqliteError {
        // SAFETY: open connection; sqlite3_errmsg returns a NUL-terminated string owned
        // by the connection, valid until the next call on it: copied at once.
        let message = unsafe {
            let msg = ffi::sqlite3_errmsg(self.db.as_ptr());
            if msg.is_null() {
                String::new()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            }
        };
        // SAFETY: open connection.
        let extended = unsafe { ffi::sqlite3_extended_errcode(self.db.as_ptr()) };
        SqliteError {
            code: if extended != 0 { extended } else { rc },
            message,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: every `Statement` borrows the connection, so all were finalized before
        // it can be dropped, and sqlite3_close (which would refuse, SQLITE_BUSY, with a
        // statement left) closes it; it also rolls back an open read transaction.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// A prepared statement of a [`Connection`].
pub struct Statement<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    conn: &'c Connection,
    columns: usize,
}

impl<'c> Statement<'c> {
    /// Binds an integer to the 1-based parameter `index`.
    pub fn bind_i64(&mut self, index: i32, value: i64) -> Result<(), SqliteError> {
        // SAFETY: a valid statement, not being stepped (we hold `&mut self`, and a `Row`
        // borrows the statement).
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), index, value) };
        self.check(rc)
    }

    /// Binds NULL to the 1-based parameter `index`.
    pub fn bind_null(&mut self, index: i32) -> Result<(), SqliteError> {
        // SAFETY: a valid statement not being stepped.
        let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), index) };
        self.check(rc)
    }

    /// Binds text to the 1-based parameter `index`; SQLite copies it.
    pub fn bind_text(&mut self, index: i32, value: &str) -> Result<(), SqliteError> {
        let len = c_int::try_from(value.len()).map_err(|_| SqliteError {
            code: ffi::SQLITE_TOOBIG,
            message: "bound text too long".into(),
        })?;
        // SAFETY: a valid statement not being stepped; `value` is valid for `len` bytes
        // during the call, and SQLITE_TRANSIENT makes SQLite copy it before returning.
        let rc = unsafe {
            ffi::sqlite3_bind_text(
                self.stmt.as_ptr(),
                index,
                value.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_TRANSIENT(),
            )
        };
        self.check(rc)
    }

    /// Steps to the next row: `None` when there are no more.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, SqliteError> {
        // SAFETY: a valid statement; no `Row` of an earlier step is alive (it would
        // borrow `self`), so no column pointer outlives this step.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        match rc {
            ffi::SQLITE_ROW => Ok(Some(Row {
                stmt: self.stmt,
                columns: self.columns,
                _step: PhantomData,
            })),
            ffi::SQLITE_DONE => Ok(None),
            rc => Err(self.conn.error(rc)),
        }
    }

    /// Runs a statement that returns no rows (an INSERT) to completion and resets it,
    /// keeping its bindings, so it can be bound and run again.
    pub fn run(&mut self) -> Result<(), SqliteError> {
        // SAFETY: a valid statement; no `Row` is alive (it would borrow `self`).
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        let result = match rc {
            ffi::SQLITE_DONE => Ok(()),
            ffi::SQLITE_ROW => Err(SqliteError {
                code: ffi::SQLITE_MISUSE,
                message: "statement returned rows where none were expected".into(),
            }),
            rc => Err(self.conn.error(rc)),
        };
        // SAFETY: a valid statement. Its return value repeats the step's error, already
        // taken above (after an error the message must be read before the reset).
        unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
        result
    }

    fn check(&self, rc: c_int) -> Result<(), SqliteError> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.conn.error(rc))
        }
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: a valid statement, finalized exactly once; no `Row` can outlive it.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// The current row of a statement. It borrows the statement mutably, so the statement
/// cannot step, reset or be finalized while slices read from the row are alive.
pub struct Row<'s> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    columns: usize,
    _step: PhantomData<&'s mut ()>,
}

impl<'s> Row<'s> {
    fn column_type(&self, column: usize) -> Result<(c_int, c_int), ColumnError> {
        if column >= self.columns {
            return Err(ColumnError::Missing { column });
        }
        let index = c_int::try_from(column).map_err(|_| ColumnError::Missing { column })?;
        // SAFETY: a statement positioned on a row (SQLITE_ROW), index in range.
        let kind = unsafe { ffi::sqlite3_column_type(self.stmt.as_ptr(), index) };
        Ok((index, kind))
    }

    /// An INTEGER column.
    pub fn int(&self, column: usize) -> Result<i64, ColumnError> {
        let (index, kind) = self.column_type(column)?;
        if kind != ffi::SQLITE_INTEGER {
            return Err(type_error(column, "an integer", kind));
        }
        // SAFETY: as above; the value is an integer, so no conversion happens.
        Ok(unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), index) })
    }

    /// A TEXT column, borrowed from SQLite until the statement steps again.
    pub fn text(&self, column: usize) -> Result<&'s str, ColumnError> {
        let (index, kind) = self.column_type(column)?;
        if kind != ffi::SQLITE_TEXT {
            return Err(type_error(column, "text", kind));
        }
        // SAFETY: the value is TEXT, so sqlite3_column_text returns it without a type
        // conversion (none that would invalidate earlier pointers for other columns,
        // and for this column a second call returns the same buffer). Per SQLite's
        // documented order, the pointer is taken first, then its length. The buffer
        // lives until the statement steps, resets or is finalized, all of which need
        // the `&mut Statement` this row's lifetime `'s` borrows.
        let bytes = unsafe {
            let p = ffi::sqlite3_column_text(self.stmt.as_ptr(), index);
            let len = ffi::sqlite3_column_bytes(self.stmt.as_ptr(), index);
            raw_slice(p, len)
        };
        std::str::from_utf8(bytes).map_err(|_| ColumnError::Utf8 { column })
    }

    /// A BLOB column, borrowed from SQLite until the statement steps again.
    pub fn blob(&self, column: usize) -> Result<&'s [u8], ColumnError> {
        let (index, kind) = self.column_type(column)?;
        if kind != ffi::SQLITE_BLOB {
            return Err(type_error(column, "a blob", kind));
        }
        // SAFETY: as for `text`: the value is a BLOB, read without conversion, and the
        // buffer outlives `'s`. A zero-length blob comes back as a null pointer, which
        // `raw_slice` turns into an empty slice.
        Ok(unsafe {
            let p = ffi::sqlite3_column_blob(self.stmt.as_ptr(), index);
            let len = ffi::sqlite3_column_bytes(self.stmt.as_ptr(), index);
            raw_slice(p.cast::<u8>(), len)
        })
    }
}

/// SAFETY (for callers): `p` must be null or point to `len` readable bytes that stay
/// valid and unchanged for `'a`.
unsafe fn raw_slice<'a>(p: *const u8, len: c_int) -> &'a [u8] {
    match usize::try_from(len) {
        Ok(len) if len > 0 && !p.is_null() => {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(p, len) }
        }
        _ => &[],
    }
}

fn type_error(column: usize, wanted: &'static str, kind: c_int) -> ColumnError {
    ColumnError::Type {
        column,
        wanted,
        found: match kind {
            ffi::SQLITE_INTEGER => "an integer",
            ffi::SQLITE_FLOAT => "a float",
            ffi::SQLITE_TEXT => "text",
            ffi::SQLITE_BLOB => "a blob",
            ffi::SQLITE_NULL => "NULL",
            _ => "of an unknown type",
        },
    }
}

fn path_to_cstring(path: &Path) -> Result<CString, SqliteError> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    // SQLite takes UTF-8 file names on other platforms.
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    CString::new(bytes).map_err(|_| SqliteError {
        code: ffi::SQLITE_CANTOPEN,
        message: "database path contains a NUL byte".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        std::fs::write(&path, b"").expect("create file");
        (dir, path)
    }

    #[test]
    fn reads_typed_columns_and_refuses_wrong_types() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path, Access::Read, 1000).expect("open");
        let mut stmt = conn
            .prepare("SELECT 7, 'héllo', x'0102', x'', NULL, 1.5, ?1, ?2")
            .expect("prepare");
        stmt.bind_i64(1, -3).expect("bind");
        stmt.bind_text(2, "bound").expect("bind");
        assert!(stmt.bind_i64(9, 0).is_err(), "no parameter 9");
        let row = stmt.next_row().expect("step").expect("a row");
        assert_eq!(row.int(0), Ok(7));
        assert_eq!(row.text(1), Ok("héllo"));
        assert_eq!(row.blob(2), Ok(&[1u8, 2][..]));
        assert_eq!(row.blob(3), Ok(&[][..]));
        assert_eq!(row.int(6), Ok(-3));
        assert_eq!(row.text(7), Ok("bound"));
        assert!(matches!(
            row.int(1),
            Err(ColumnError::Type { column: 1, .. })
        ));
        assert!(matches!(
            row.text(2),
            Err(ColumnError::Type { column: 2, .. })
        ));
        assert!(matches!(
            row.blob(4),
            Err(ColumnError::Type { found: "NULL", .. })
        ));
        assert!(matches!(
            row.int(5),
            Err(ColumnError::Type {
                found: "a float",
                ..
            })
        ));
        assert_eq!(row.int(8), Err(ColumnError::Missing { column: 8 }));
        assert!(stmt.next_row().expect("step").is_none());
    }

    #[test]
    fn invalid_utf8_text_is_an_error_not_a_panic() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path, Access::Read, 1000).expect("open");
        let mut stmt = conn
            .prepare("SELECT CAST(x'ff00fe' AS TEXT)")
            .expect("prepare");
        let row = stmt.next_row().expect("step").expect("a row");
        assert_eq!(row.text(0), Err(ColumnError::Utf8 { column: 0 }));
    }

    #[test]
    fn is_read_only_and_reports_errors() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path, Access::Read, 1000).expect("open");
        let err = conn.execute("CREATE TABLE t (x)").expect_err("query_only");
        assert!(
            err.message.contains("readonly")
                || err.message.contains("read-only")
                || err.message.contains("query_only"),
            "{err}"
        );
        assert!(conn.prepare("SELECT * FROM no_such_table").is_err());
        assert!(conn.prepare("  ").is_err());
        assert!(Connection::open(&path, Access::ReadWrite, 1000)
            .expect("open")
            .execute("CREATE TABLE t (x)")
            .is_ok());
        let missing = std::path::Path::new("/nonexistent-dir/none.db");
        assert!(Connection::open(missing, Access::Read, 1000).is_err());
    }

    #[test]
    fn inserts_with_one_statement_run_again_and_again() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path, Access::ReadWrite, 1000).expect("open");
        conn.execute("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER UNIQUE) STRICT")
            .expect("create");
        conn.execute("BEGIN").expect("begin");
        let mut insert = conn
            .prepare("INSERT INTO t VALUES (?, ?, ?)")
            .expect("prepare");
        for i in 0..3 {
            insert.bind_i64(1, i).expect("bind");
            insert.bind_text(2, &format!("row {i}")).expect("bind");
            if i == 1 {
                insert.bind_null(3).expect("bind");
            } else {
                insert.bind_i64(3, i * 10).expect("bind");
            }
            insert.run().expect("insert");
        }
        // A constraint failure is an error, and the statement can run again after it.
        insert.bind_i64(3, 0).expect("bind");
        let err = insert.run().expect_err("duplicate");
        assert!(err.message.contains("UNIQUE"), "{err}");
        insert.bind_i64(3, 99).expect("bind");
        insert.run().expect("insert after the failure");
        drop(insert);
        conn.execute("COMMIT").expect("commit");
        let mut q = conn
            .prepare("SELECT a, b, c FROM t ORDER BY a")
            .expect("prepare");
        let mut seen = Vec::new();
        while let Some(row) = q.next_row().expect("step") {
            seen.push((
                row.int(0).expect("a"),
                row.text(1).expect("b").to_owned(),
                row.int(2).ok(),
            ));
        }
        assert_eq!(
            seen,
            [
                (0, "row 0".to_owned(), Some(0)),
                (1, "row 1".to_owned(), None),
                (2, "row 2".to_owned(), Some(20)),
                (2, "row 2".to_owned(), Some(99)),
            ]
        );
    }
}
