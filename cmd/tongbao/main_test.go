package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// run runs tongbao in process with args and returns what it wrote.
func run(tb testing.TB, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	err = m.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func TestUnknownCommand(t *testing.T) {
	_, _, err := run(t, "mint")
	if err == nil || !strings.Contains(err.Error(), `unknown command "mint"`) {
		t.Fatalf("got error %v; want unknown command", err)
	}
}

func TestUnknownFlagNamesHelp(t *testing.T) {
	_, _, err := run(t, "demo", "--colour")
	if err == nil || !strings.Contains(err.Error(), "tongbao demo --help") {
		t.Fatalf("got error %v; want a pointer to tongbao demo --help", err)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "tongbao ") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("got %q; want a line starting with tongbao", out)
	}
}
