package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBadInputGivesOneLineAndExitCode(t *testing.T) {
	f := func(args []string, code int, want string) {
		t.Helper()
		var out, errw bytes.Buffer
		got := run(args, &out, &errw)
		msg := errw.String()
		if got != code || !strings.Contains(msg, want) || strings.Count(msg, "\n") != 1 || strings.Contains(msg, "goroutine") {
			t.Errorf("run(%q) = %d, stderr %q; want %d and one line with %q", args, got, msg, code, want)
		}
	}
	f([]string{"-rate", "fast"}, 2, `invalid value "fast" for flag -rate`)
	f([]string{"-nope"}, 2, "flag provided but not defined: -nope")
	f([]string{"-rate", "0", "-conns", "0"}, 2, "rate: 0 must be in (0, 2000000] requests/s; conns: 0 must be between 1 and 10000")
	f([]string{"-target", "http://192.0.2.1:80"}, 2, "is not a loopback address")
	f([]string{"-target", "http://127.0.0.1:1", "-duration", "1s"}, 1, "target 127.0.0.1:1 is not reachable")
	f([]string{"-corpus", "/nonexistent", "-target", "http://127.0.0.1:1"}, 1, "corpus: cannot read /nonexistent")
	f([]string{"-json", "/nonexistent/dir/r.json"}, 1, "cannot create /nonexistent/dir/r.json")
	f([]string{"walk"}, 2, `unknown command "walk"`)
	f([]string{"ceiling", "-listen", "10.1.1.1:80"}, 1, "not a loopback address")
	f([]string{"run", "extra"}, 2, `unexpected argument "extra"`)
}
