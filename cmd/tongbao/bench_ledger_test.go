package main

import (
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchJSON runs bench ledger with --json in a temporary folder and returns
// the one object it printed. It checks that the data folder was removed.
func benchJSON(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"bench", "ledger", "--json", "--dir", dir}, args...)
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	if strings.Contains(errOut, "failures") {
		t.Errorf("transfers failed; want none:\n%s", errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	keys := make([]string, 0, len(fields))
	values := make(map[string]float64, len(fields))
	for k, raw := range fields {
		keys = append(keys, k)
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("%s = %s; want a number", k, raw)
		}
		values[k] = v
	}
	slices.Sort(keys)
	want := []string{"mean_batch", "p50_ms", "p99_ms", "peak_rss_mb", "seconds", "transfers", "transfers_per_sec"}
	if !slices.Equal(keys, want) {
		t.Fatalf("got keys %v; want exactly %v", keys, want)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("the data folder was not removed: %v %v", left, err)
	}
	return values
}

func TestBenchLedgerJSON(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		transfers    float64
		meanBatchMax float64
	}{
		{
			name:         "defaults",
			args:         []string{"--accounts", "50", "--transfers", "2000", "--clients", "4"},
			transfers:    2000,
			meanBatchMax: 8190,
		},
		{
			// --request above --batch-max is clamped to it; a request the
			// ledger would refuse would abort the run.
			name:         "request clamped to batch max",
			args:         []string{"--accounts", "20", "--transfers", "1000", "--clients", "3", "--batch-max", "50", "--request", "100", "--hot", "0.5"},
			transfers:    1000,
			meanBatchMax: 50,
		},
		{
			name:         "all hot, one client, one transfer per request",
			args:         []string{"--accounts", "2", "--transfers", "30", "--clients", "1", "--request", "1", "--hot", "1"},
			transfers:    30,
			meanBatchMax: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := benchJSON(t, tc.args...)
			if v["transfers"] != tc.transfers {
				t.Errorf("transfers = %v; want %v", v["transfers"], tc.transfers)
			}
			if v["seconds"] <= 0 {
				t.Errorf("seconds = %v; want > 0", v["seconds"])
			}
			if v["transfers_per_sec"] <= 0 {
				t.Errorf("transfers_per_sec = %v; want > 0", v["transfers_per_sec"])
			}
			if v["p50_ms"] <= 0 || v["p99_ms"] < v["p50_ms"] {
				t.Errorf("p50_ms = %v, p99_ms = %v; want 0 < p50 <= p99", v["p50_ms"], v["p99_ms"])
			}
			if v["mean_batch"] < 1 || v["mean_batch"] > tc.meanBatchMax {
				t.Errorf("mean_batch = %v; want 1 to %v", v["mean_batch"], tc.meanBatchMax)
			}
			if v["peak_rss_mb"] <= 0 {
				t.Errorf("peak_rss_mb = %v; want > 0", v["peak_rss_mb"])
			}
		})
	}
}

func TestBenchLedgerSummary(t *testing.T) {
	out, errOut, err := run(t, "bench", "ledger", "--dir", t.TempDir(),
		"--accounts", "30", "--transfers", "500", "--clients", "2", "--request", "50")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	for _, want := range []string{
		"bench ledger: 500 transfers between 30 wallets",
		"sqlite, 2 clients, 50 transfers per request, batch max 8190, 10% hot",
		"transfers/s",
		"(10 requests)",
		"failures     none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "500/500") {
		t.Errorf("stderr shows no finished progress bar:\n%s", errOut)
	}
}

func TestBenchLedgerRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", "postgres"}, `--db "postgres": want sqlite or a postgres:// URL`},
		{[]string{"--accounts", "1"}, "--accounts 1"},
		{[]string{"--transfers", "0"}, "--transfers 0"},
		{[]string{"--clients", "0"}, "--clients 0"},
		{[]string{"--batch-max", "0"}, "--batch-max 0"},
		{[]string{"--request", "-1"}, "--request -1"},
		{[]string{"--hot", "1.5"}, "--hot 1.5"},
		{[]string{"--hot", "-0.1"}, "--hot -0.1"},
		{[]string{"extra"}, "unknown command"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"bench", "ledger", "--dir", dir}, tc.args...)
			out, _, err := run(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v; want one containing %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("stdout = %q; want nothing", out)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a refused run left %v behind", left)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"p50 of two is the lower", ms(1, 2), 0.5, 1 * time.Millisecond},
		{"p99 of two is the higher", ms(1, 2), 0.99, 2 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p100 of 1..100", ms(hundred...), 1, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}
