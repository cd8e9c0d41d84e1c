//go:build !unix

package main

import "time"

// maxRSSBytes returns zero where getrusage does not exist.
func maxRSSBytes() int64 { return 0 }

// cpuTime returns zero where getrusage does not exist.
func cpuTime() time.Duration { return 0 }
