package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// bench keys issues the keys asked for through a real server, prints one
// JSON object with the figures and removes its data folder.
func TestBenchKeysJSON(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := run(t, "bench", "keys", "--json", "--dir", dir, "--keys", "300", "--clients", "8", "--wallets", "3")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	var res benchKeysResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not the result: %v\n%s", err, out)
	}
	if res.Keys != 300 || res.Failed != 0 || res.KeysPerSec <= 0 || res.KeysDBBytes <= 0 {
		t.Errorf("result %+v; want 300 keys, none failed, a rate and the size of keys.db", res)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("the data folder was not removed: %v %v", left, err)
	}
}

func TestBenchKeysRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--keys", "0"}, {"--clients", "0"}, {"--wallets", "0"}} {
		dir := t.TempDir()
		_, _, err := run(t, append([]string{"bench", "keys", "--dir", dir}, args...)...)
		if err == nil {
			t.Errorf("bench keys %v: got no error", args)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("bench keys %v made a data folder", args)
		}
	}
}
