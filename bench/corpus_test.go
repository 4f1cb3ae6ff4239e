package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCorpus(t *testing.T) {
	bodies, err := LoadCorpus("testdata/corpus", true, false, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d bodies, want 2", len(bodies))
	}
	for _, b := range bodies {
		if string(b.Data[b.IDOff-6:b.IDOff+16]) != idPlaceholder {
			t.Errorf("id placeholder not at IDOff in %s", b.Data)
		}
	}
	kept, _ := LoadCorpus("testdata/corpus", false, false, 0, 1)
	raw, _ := os.ReadFile("testdata/corpus/native-ad.json")
	if string(kept[0].Data) != string(raw) {
		t.Errorf("without unique ids the corpus bytes must be sent as they are")
	}
}

func TestLoadCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := func(name, want string) {
		t.Helper()
		_, err := LoadCorpus(name, true, false, 0, 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadCorpus(%s) = %v, want an error containing %q", name, err, want)
		}
		if err != nil && strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("error is not one line: %q", err)
		}
	}
	f(filepath.Join(dir, "missing"), "no such file or directory")
	f(write("file.json", "{}"), "is not a directory")
	empty := filepath.Join(dir, "empty")
	_ = os.Mkdir(empty, 0o755)
	write("empty/readme.txt", "x")
	f(empty, "holds no .json files")

	bad := filepath.Join(dir, "bad")
	_ = os.Mkdir(bad, 0o755)
	write("bad/a.json", `{"id":"1","imp":[{"id":"1"}]}`)
	write("bad/b.json", `[1,2]`)
	f(bad, "b.json is not a JSON object")
	_ = os.Remove(filepath.Join(bad, "b.json"))
	write("bad/c.json", `{"id": `)
	f(bad, "c.json is not a JSON object")
	_ = os.Remove(filepath.Join(bad, "c.json"))
	write("bad/n.json", `null`)
	f(bad, "n.json is not a JSON object")
	_ = os.Remove(filepath.Join(bad, "n.json"))
	// A dangling link reads like an unreadable file, even for root.
	_ = os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(bad, "d.json"))
	f(bad, "cannot read")
}
