package numbers

import (
	"github.com/callbid/callbid/jsonw"
)

// appendJSONString appends s as a JSON string literal (quotes included)
// with the escaping every callbid writer shares (jsonw: U+2028/U+2029
// escaped, invalid UTF-8 replaced). It takes the entries' []byte fields
// without copying them.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	if v, ok := any(s).(string); ok {
		return jsonw.AppendString(b, v)
	}
	return jsonw.AppendBytes(b, any(s).([]byte))
}

func appendKV[T string | []byte](b []byte, k string, v T) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}
