// Package rowscan reads query results the same way on SQLite
// (database/sql) and PostgreSQL (pgx), for the domain stores of both.
package rowscan

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface{ Scan(...any) error }

// Rows is a query's result: *sql.Rows or pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// All reads every row of rows with scan; the caller closes rows.
func All[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
