package jsonr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	f := func(doc string, ok bool) {
		t.Helper()
		var p Parser
		_, err := p.Parse([]byte(doc))
		if (err == nil) != ok {
			t.Errorf("%q: error %v, want ok=%v", doc, err, ok)
		}
		if json.Valid([]byte(doc)) != ok {
			t.Errorf("%q: encoding/json disagrees with the case (ok=%v)", doc, ok)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "invalid JSON at byte ") {
				t.Errorf("%q: error %v is not a *SyntaxError", doc, err)
			}
		}
	}
	for _, ok := range []string{`{}`, `[]`, ` {"a" : [1, -0, 0.5e-3, 1E+9, true, false, null, "x"]} `, `"\u00e9\ud83d\ude00\/\b\f\n\r\t"`,
		`0`, `-1.25`, "\t\r\n 7 \n", `{"a":{"a":{"a":[]}}}`, `"` + "\xff\xfe" + `"`, `"\ud800"`, `"\udc00\ud800x"`, `{"a":1,"a":2}`} {
		f(ok, true)
	}
	for _, bad := range []string{``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{'a':1}`, `{a:1}`,
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `NaN`, `Infinity`, `-Infinity`, `tru`, `nul`, `True`, `"abc`, `"\x"`, `"\u12"`,
		`"\u12g4"`, "\"a\tb\"", "\"\x00\"", `{} {}`, `[1] x`, `"a"b`, `1 2`, `[1}`, `{"a":1]`, `"\`, `{"a" 1}`} {
		f(bad, false)
	}
}

func TestStrings(t *testing.T) {
	for doc, want := range map[string]string{
		`"plain"`:                   "plain",
		`""`:                        "",
		`"a\"b\\c\/d"`:              `a"b\c/d`,
		`"\b\f\n\r\t"`:              "\b\f\n\r\t",
		`"\u0041\u00e9\u20AC"`:      "Aé€",
		`"\ud83d\ude00!"`:           "😀!",
		`"\ud83d"`:                  "\uFFFD",
		`"\ude00\ud83d"`:            "\uFFFD\uFFFD",
		`"\ud83dx"`:                 "\uFFFDx",
		`"\ud83d\u0041"`:            "\uFFFDA",
		`"\ud83d\ud83d\ude00"`:      "\uFFFD😀",
		`"\u0000"`:                  "\x00",
		`"héllo \u00e9 wörld"`:      "héllo é wörld",
		"\"\xff\"":                  "\xff", // kept: the caller checks UTF-8
		`"mixed \n and plain tail"`: "mixed \n and plain tail",
	} {
		var p Parser
		v, err := p.Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		got, ok := v.StringBytes()
		if !ok || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", doc, got, ok, want)
		}
		if utf8.ValidString(want) {
			var s string
			if err := json.Unmarshal([]byte(doc), &s); err != nil || s != want {
				t.Errorf("%s: encoding/json reads %q, %v", doc, s, err)
			}
		}
	}
}

func TestNumbers(t *testing.T) {
	var p Parser
	num := func(doc string) Value {
		t.Helper()
		v, err := p.Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return v
	}
	i64 := func(doc string, want int64, ok bool) {
		t.Helper()
		if n, k := num(doc).Int64(); n != want || k != ok {
			t.Errorf("Int64(%s) = %d, %v; want %d, %v", doc, n, k, want, ok)
		}
	}
	i64(`0`, 0, true)
	i64(`-0`, 0, true)
	i64(`48211`, 48211, true)
	i64(`-123456789012345678`, -123456789012345678, true)
	i64(`9223372036854775807`, math.MaxInt64, true)
	i64(`-9223372036854775808`, math.MinInt64, true)
	i64(`9223372036854775808`, 0, false)
	i64(`1.5`, 0, false)
	i64(`1e3`, 0, false)
	i64(`1.0`, 0, false)
	u64 := func(doc string, want uint64, ok bool) {
		t.Helper()
		if n, k := num(doc).Uint64(); n != want || k != ok {
			t.Errorf("Uint64(%s) = %d, %v; want %d, %v", doc, n, k, want, ok)
		}
	}
	u64(`18446744073709551615`, math.MaxUint64, true)
	u64(`18446744073709551616`, 0, false)
	u64(`1234567890123456789`, 1234567890123456789, true)
	u64(`-0`, 0, false)
	u64(`-1`, 0, false)
	u64(`2e3`, 0, false)
	f64 := func(doc string, want float64, ok bool) {
		t.Helper()
		if f, k := num(doc).Float64(); f != want || k != ok {
			t.Errorf("Float64(%s) = %g, %v; want %g, %v", doc, f, k, want, ok)
		}
	}
	f64(`4.0`, 4, true)
	f64(`-0.5e-3`, -0.0005, true)
	f64(`1E+2`, 100, true)
	f64(`1e308`, 1e308, true)
	f64(`1e309`, 0, false) // out of range, as encoding/json says
	f64(`1e-400`, 0, true)
	if _, ok := num(`"1"`).Int64(); ok {
		t.Error("a string read as an integer")
	}
	if _, ok := num(`true`).Float64(); ok {
		t.Error("true read as a number")
	}
}

func TestGetIterAndKinds(t *testing.T) {
	var p Parser
	v, err := p.Parse([]byte(`{"a":1,"b":{"c":[true,false,null,"s",{}]},"a":2,"k\u0065y":"v","":0}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != Object || v.Len() != 5 {
		t.Fatalf("kind %v len %d", v.Kind(), v.Len())
	}
	if n, _ := v.Get("a").Int64(); n != 1 {
		t.Errorf("a repeated key: Get found %d, want the first (1)", n)
	}
	if s, _ := v.Get("key").StringBytes(); string(s) != "v" {
		t.Errorf("an escaped key: %q", s)
	}
	if v.Get("").Kind() != Number || v.Get("zz").Kind() != None || v.Get("zz").Get("a").Kind() != None {
		t.Error("empty or absent keys")
	}
	arr := v.Get("b").Get("c")
	var kinds []string
	for it := arr.Iter(); it.Next(); {
		kinds = append(kinds, it.Value().Kind().String())
		if it.Key() != nil {
			t.Error("an array element has a key")
		}
	}
	if got := strings.Join(kinds, ","); got != "true,false,null,string,object" || arr.Len() != 5 {
		t.Errorf("elements %s, len %d", got, arr.Len())
	}
	var keys []string
	for it := v.Iter(); it.Next(); {
		keys = append(keys, string(it.Key())+"="+it.Value().Kind().String())
	}
	if got := strings.Join(keys, ","); got != "a=number,b=object,a=number,key=string,=number" {
		t.Errorf("members %s", got)
	}
	for it := arr.Get("x").Iter(); it.Next(); {
		t.Error("None iterates")
	}
	if b, ok := v.Get("b").Bool(); b || ok {
		t.Error("an object read as a bool")
	}
	if Kind(42).String() != "Kind(42)" || None.String() != "none" {
		t.Error("kind names")
	}
	var zero Value
	if zero.Kind() != None || zero.Len() != 0 {
		t.Error("the zero Value is not None")
	}
}

func TestDepthLimit(t *testing.T) {
	var p Parser
	doc := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := p.Parse([]byte(doc)); err != nil {
		t.Fatalf("%d deep: %v", MaxDepth, err)
	}
	doc = strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	if _, err := p.Parse([]byte(doc)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("%d deep: %v", MaxDepth+1, err)
	}
}

// A failed parse leaves no value behind, and the parser parses again.
func TestReuseAfterError(t *testing.T) {
	var p Parser
	if _, err := p.Parse([]byte(`{"a":"b\u00e9",`)); err == nil {
		t.Fatal("accepted")
	}
	v, err := p.Parse([]byte(`{"a":"\u00e9"}`))
	if s, _ := v.Get("a").StringBytes(); err != nil || string(s) != "é" {
		t.Fatalf("%q, %v", s, err)
	}
}

// FuzzParse checks the parser against encoding/json: the same documents
// accepted (but those nested beyond MaxDepth), the same values read.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"agent_id":"acme:agent-123","seq":48211,"skills":[{"name":"m","proficiency":4.0}],"ttl":null}`,
		`[1,-0.5e-7,"\u00e9\ud83d\ude00",true,false,null,{}]`, `{"a":1,"a":{"b":[]}}`, `"\ud800\u0041"`, "\"\xff\"", `01`, `{"a":1,}`,
		`1e400`, `-9223372036854775809`, `18446744073709551615`, `[[[[[[]]]]]]`, `"\u0000\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Parser
		v, err := p.Parse(b)
		valid := json.Valid(b)
		if errors.Is(err, ErrTooDeep) {
			return // encoding/json nests up to 10,000 deep
		}
		if (err == nil) != valid {
			t.Fatalf("%q: jsonr error %v, encoding/json valid %v", b, err, valid)
		}
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		same(t, v, want)
	})
}

// same fails t unless v reads as encoding/json read w (UseNumber).
func same(t *testing.T, v Value, w any) {
	t.Helper()
	switch w := w.(type) {
	case nil:
		if v.Kind() != Null {
			t.Fatalf("%v, want null", v.Kind())
		}
	case bool:
		if b, ok := v.Bool(); !ok || b != w {
			t.Fatalf("%v, want %v", v.Kind(), w)
		}
	case string:
		s, ok := v.StringBytes()
		if !ok || asEncodingJSON(s) != w {
			t.Fatalf("string %q, want %q", s, w)
		}
	case json.Number:
		s, ok := v.NumberBytes()
		if !ok || string(s) != string(w) {
			t.Fatalf("number %q, want %q", s, w)
		}
		wf, werr := strconv.ParseFloat(string(w), 64)
		if f, ok := v.Float64(); ok != (werr == nil) || ok && f != wf {
			t.Fatalf("Float64(%s) = %g, %v", w, f, ok)
		}
		wi, werr := w.Int64()
		if n, ok := v.Int64(); ok != (werr == nil) || n != wi && ok {
			t.Fatalf("Int64(%s) = %d, %v", w, n, ok)
		}
		wu, werr := strconv.ParseUint(string(w), 10, 64)
		if n, ok := v.Uint64(); ok != (werr == nil) || n != wu && ok {
			t.Fatalf("Uint64(%s) = %d, %v", w, n, ok)
		}
	case []any:
		if v.Kind() != Array || v.Len() != len(w) {
			t.Fatalf("%v of %d, want an array of %d", v.Kind(), v.Len(), len(w))
		}
		i := 0
		for it := v.Iter(); it.Next(); i++ {
			same(t, it.Value(), w[i])
		}
	case map[string]any:
		if v.Kind() != Object {
			t.Fatalf("%v, want an object", v.Kind())
		}
		last := map[string]Value{} // encoding/json keeps a repeated key's last value
		for it := v.Iter(); it.Next(); {
			last[asEncodingJSON(it.Key())] = it.Value()
			if first := v.Get(string(it.Key())); first.Kind() == None {
				t.Fatalf("Get(%q) finds nothing", it.Key())
			}
		}
		if len(last) != len(w) {
			t.Fatalf("%d keys, want %d", len(last), len(w))
		}
		for k, wv := range w {
			x, ok := last[k]
			if !ok {
				t.Fatalf("no key %q", k)
			}
			same(t, x, wv)
		}
	default:
		t.Fatalf("encoding/json read a %T", w)
	}
}

// asEncodingJSON is s with each byte that is not UTF-8 replaced by U+FFFD,
// as encoding/json reads it.
func asEncodingJSON(s []byte) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}

// Objects with a key table find the first of a repeated key, escaped keys,
// and no absent one, as small objects do.
func TestKeyTable(t *testing.T) {
	for _, n := range []int{indexFrom - 1, indexFrom, 40} {
		var doc strings.Builder
		doc.WriteString(`{`)
		for i := range n {
			fmt.Fprintf(&doc, `"k%d":%d,`, i, i)
		}
		doc.WriteString(`"k1":-1,"\u006b\u0031x":7,"":8}`)
		var p Parser
		v, err := p.Parse([]byte(doc.String()))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got, _ := v.Get(fmt.Sprintf("k%d", i)).Int64(); got != int64(i) {
				t.Errorf("%d members: k%d = %d", n, i, got)
			}
		}
		if got, _ := v.Get("k1x").Int64(); got != 7 {
			t.Errorf("%d members: the escaped key reads %d", n, got)
		}
		if got, _ := v.Get("").Int64(); got != 8 {
			t.Errorf("%d members: the empty key reads %d", n, got)
		}
		for _, absent := range []string{"k", "K1", "k1y", fmt.Sprintf("k%d", n), "k1\x00"} {
			if v.Get(absent).Exists() {
				t.Errorf("%d members: found %q", n, absent)
			}
		}
	}
}
