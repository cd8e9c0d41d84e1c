package ledger

// CloseAsCrash closes the ledger without writing the balance rows that
// wait, leaving the store as a crash would: the next open must replay.
func (l *Ledger) CloseAsCrash() error {
	l.skipCheckpoint.Store(true)
	return l.Close()
}
