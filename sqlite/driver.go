package sqlite

import (
	"database/sql/driver"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteDriver is github.com/mattn/go-sqlite3, SQLite's own C code through
// cgo. It was chosen over the pure Go modernc.org/sqlite by BenchmarkCommit.
var sqliteDriver driver.Driver = &sqlite3.SQLiteDriver{}
