package ledger

// CloseAsCrash closes the ledger without writing the balance rows that
// wait, leaving the store as a crash would: the next open must replay.
func (l *Ledger) CloseAsCrash() error {
	l.skipCheckpoint.Store(true)
	return l.Close()
}

// ExpiryQueueLen returns how many entries the writer's expiry queue holds.
// Call it only while no request is in flight.
func (l *Ledger) ExpiryQueueLen() int { return len(l.state.expiries) }
