package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// bench api runs both phases over a real server and prints one JSON object
// with each phase's figures; --phase runs one.
func TestBenchAPIJSON(t *testing.T) {
	for _, tc := range []struct {
		phase  string
		single bool
		batch  bool
	}{{"", true, true}, {"single", true, false}, {"batched", false, true}} {
		t.Run("phase="+tc.phase, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"bench", "api", "--json", "--dir", dir, "--clients", "4", "--wallets", "16", "--batch", "8", "--duration", "200ms"}
			if tc.phase != "" {
				args = append(args, "--phase", tc.phase)
			}
			out, errOut, err := run(t, args...)
			if err != nil {
				t.Fatalf("%v\nstderr:\n%s", err, errOut)
			}
			if strings.Contains(errOut, "first failure") {
				t.Errorf("payments failed; want none:\n%s", errOut)
			}
			var res benchAPIResult
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("stdout is not the result: %v\n%s", err, out)
			}
			for _, ph := range []struct {
				name string
				ran  bool
				p    benchAPIPhase
			}{{"single", tc.single, res.Single}, {"batched", tc.batch, res.Batched}} {
				switch {
				case !ph.ran && ph.p != (benchAPIPhase{}):
					t.Errorf("%s: %+v; want nothing, the phase did not run", ph.name, ph.p)
				case ph.ran && (ph.p.Payments == 0 || ph.p.Failed != 0 || ph.p.MeanBatch < 1):
					t.Errorf("%s: %+v; want payments, none failed, at least one per commit", ph.name, ph.p)
				}
			}
			if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
				t.Errorf("the data folder was not removed: %v %v", left, err)
			}
		})
	}
}
