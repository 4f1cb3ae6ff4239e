package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadCorpus reads every *.json file under dir (recursively, in name order)
// as one BidRequest body. Each must be a JSON object. With uniqueIDs the
// top-level "id" is replaced by a placeholder the sender rewrites per
// request (the object is re-encoded; field values are kept as they were).
// With gz, a gzShare of the bodies (chosen from seed) is sent gzipped.
func LoadCorpus(dir string, uniqueIDs, gz bool, gzShare float64, seed int64) ([]Body, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("corpus: cannot read %s: %w", dir, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("corpus: %s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, unwrapPath(err))
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("corpus: %s holds no .json files", dir)
	}
	sort.Strings(files)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	out := make([]Body, 0, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("corpus: cannot read %s: %w", f, unwrapPath(err))
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			if err == nil {
				err = errors.New("it is null")
			}
			return nil, fmt.Errorf("corpus: %s is not a JSON object: %w", f, err)
		}
		b := Body{Data: data, IDOff: -1}
		if uniqueIDs {
			obj["id"] = json.RawMessage(`"` + idPlaceholder + `"`)
			if b.Data, err = json.Marshal(obj); err != nil {
				return nil, fmt.Errorf("corpus: cannot re-encode %s: %w", f, err)
			}
			b.IDOff = bytes.Index(b.Data, []byte(idPlaceholder)) + len("bench-")
		}
		if gz && rng.Float64() < gzShare {
			if uniqueIDs {
				copy(b.Data[b.IDOff:], fmt.Sprintf("%016x", uint64(i)|1<<63))
			}
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b.Data) // writes to a bytes.Buffer cannot fail
			_ = zw.Close()
			b = Body{Data: buf.Bytes(), Gzip: true, IDOff: -1}
		}
		out = append(out, b)
	}
	return out, nil
}

// unwrapPath drops the *fs.PathError wrapper whose text repeats the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
