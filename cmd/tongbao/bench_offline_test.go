package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBenchOfflineJSON runs a small sync: every token signed must settle,
// the supply check must pass, and stdout must hold exactly the result.
func TestBenchOfflineJSON(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := run(t, "bench", "offline", "--json", "--dir", dir,
		"--payers", "9", "--tokens", "5", "--batch", "7", "--clients", "3", "--raw-duration", "100ms")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	var res benchOfflineResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not the result: %v\n%s", err, out)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON object:\n%s", out)
	}
	if res.Payers != 9 || res.Tokens != 45 || res.Batch != 7 || res.Clients != 3 || !res.SupplyOK {
		t.Errorf("result %+v; want 45 tokens of 9 payers in batches of 7 by 3 uploaders, and the supply check passed", res)
	}
	if res.TokensPerSec <= 0 || res.RawPerSec <= 0 || res.Ratio <= 0 || res.CPUUsPerToken <= 0 {
		t.Errorf("result %+v; want rates, a ratio and the CPU per token", res)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("the data folder was not removed: %v %v", left, err)
	}
}

// TestBenchOfflineRefusesBadFlags: each bad flag is named, and nothing runs.
func TestBenchOfflineRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--payers", "0"}, {"--tokens", "1001"}, {"--batch", "0"}, {"--clients", "65"}, {"--raw-duration", "0s"},
	} {
		_, _, err := run(t, append([]string{"bench", "offline", "--dir", t.TempDir()}, args...)...)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("bench offline %v: %v; want an error naming %s", args, err, args[0])
		}
	}
}
