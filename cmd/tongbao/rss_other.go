//go:build !unix

package main

// maxRSSBytes returns zero where getrusage does not exist.
func maxRSSBytes() int64 { return 0 }
