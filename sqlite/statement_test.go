package sqlite

import "testing"

// Every part of a commit gets the largest statement that fits it, and one
// of its exact size once RowsExactMax or fewer rows are left.
func TestStatementFor(t *testing.T) {
	for n := 1; n <= 1000; n++ {
		k := statementFor(n)
		r := statementRows[k]
		if r > n || (n <= RowsExactMax && r != n) || (n > RowsExactMax && (r < RowsExactMax || (r < RowsPerStatementMax && 2*r <= n))) {
			t.Fatalf("n %d: k %d rows %d", n, k, r)
		}
	}
}
