package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// peakRSSMB returns the process's peak resident memory in MiB: VmHWM from
// /proc/self/status where there is one (Linux), else the maximum resident
// size from getrusage, else zero.
func peakRSSMB() float64 {
	if kib, ok := procStatusKiB("VmHWM:"); ok {
		return float64(kib) / 1024
	}
	return float64(maxRSSBytes()) / (1 << 20)
}

// procStatusKiB reads one "Name:   123 kB" line of /proc/self/status.
func procStatusKiB(name string) (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) >= 2 && string(fields[0]) == name {
			n, err := strconv.ParseInt(string(fields[1]), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
